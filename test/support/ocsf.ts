/**
 * Validates OCSF events against the class schemas shipped as test data (test/data/ocsf/,
 * hand-written from the OCSF 1.3 class definitions), independently of the mapping's own code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';

const DIR = join(import.meta.dirname, '..', 'data', 'ocsf');
const load = (name: string) => JSON.parse(readFileSync(join(DIR, name), 'utf8')) as object;

// strictRequired off: OCSF's "at least one of" constraints list required keys inside anyOf branches.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
ajv.addSchema(load('objects.schema.json'));
const byClass = new Map<number, ValidateFunction>([
  [6003, ajv.compile(load('api_activity.schema.json'))],
  [3002, ajv.compile(load('authentication.schema.json'))],
]);

/** Asserts the event is API Activity or Authentication, valid against that class's schema, with type_uid = class_uid*100 + activity_id. */
export function assertOcsf(event: Record<string, unknown>, what = 'OCSF event'): void {
  const validate = byClass.get(event.class_uid as number);
  assert.ok(validate, `${what}: class_uid ${String(event.class_uid)} is neither API Activity (6003) nor Authentication (3002)`);
  assert.ok(validate(event), `${what} fails the OCSF ${String(event.class_uid)} schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(event)}`);
  assert.equal(event.type_uid, (event.class_uid as number) * 100 + (event.activity_id as number), `${what}: type_uid is class_uid*100+activity_id`);
}

/**
 * `tollgate-gateway audit export` and `audit verify-bundle` (docs/audit.md, "Tamper evidence").
 * Exit codes: 0 verified / written, 1 the bundle does not verify, 2 usage or input mistakes.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfigFile } from '../../config/load';
import { openStore } from '../../store/open';
import { parseKeyFile } from '../checkpoint/seal';
import { exportBundle } from './export';
import { sealsFrom, verifyBundle } from './verify';

export const BUNDLE_USAGE = `  tollgate-gateway audit export --config <gateway.yaml> --from <ISO time> --to <ISO time> --out <dir>
      Write rows.jsonl, checkpoints.jsonl and manifest.json for the range (widened to checkpoints).
  tollgate-gateway audit verify-bundle <dir> --key-file <file> [--key-file <file>…] [--sink-checkpoints <file>…] [--json]
      Verify a bundle offline; key files hold "<key id> <secret>" lines. --sink-checkpoints adds the
      checkpoints a sink received (JSONL), which catch rows dropped after them.`;

const fail = (msg: string) => {
  process.stderr.write(`${msg}\n${BUNDLE_USAGE}\n`);
  return 2;
};

export async function exportCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } } }));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (!values.config || !values.out) return fail('--config and --out are required.');
  const from = new Date(values.from ?? 0);
  const to = new Date(values.to ?? Date.now());
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return fail('--from and --to are ISO 8601 times, e.g. 2026-11-01T00:00:00Z.');
  let db;
  try {
    db = await openStore(loadConfigFile(values.config));
  } catch (err) {
    if (err instanceof ConfigError) return fail(`configuration is not valid:\n${err.problems.map((p) => `  - ${p}`).join('\n')}`);
    process.stderr.write(`tollgate: cannot open the store: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const m = await exportBundle(db, { from, to }, values.out);
    process.stdout.write(`bundle written to ${values.out}: ${m.rows} rows, ${m.checkpoints} checkpoints, ${m.uncovered_rows} rows after the last checkpoint.\n`);
    return 0;
  } finally {
    await db.close().catch(() => {});
  }
}

export function verifyBundleCommand(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'key-file': { type: 'string', multiple: true }, 'sink-checkpoints': { type: 'string', multiple: true }, json: { type: 'boolean' } },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const dir = parsed.positionals[0];
  const keyFiles = parsed.values['key-file'] ?? [];
  if (!dir || keyFiles.length === 0) return fail('give the bundle directory and at least one --key-file.');
  let report;
  try {
    const keys = new Map(keyFiles.flatMap((f) => [...parseKeyFile(readFileSync(f, 'utf8'), f)]));
    const sinkSeals = (parsed.values['sink-checkpoints'] ?? []).flatMap((f) => sealsFrom(readFileSync(f, 'utf8')));
    report = verifyBundle(dir, keys, sinkSeals);
  } catch (err) {
    process.stderr.write(`tollgate: cannot read the bundle: ${(err as Error).message}\n`);
    return 2;
  }
  if (parsed.values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if (report.ok) {
    process.stdout.write(`bundle verified: ${report.rows} rows, ${report.checkpoints} checkpoints, ${report.uncovered_rows} rows after the last checkpoint (not covered by a key).\n`);
  } else {
    const first = report.problems[0]!;
    process.stdout.write(`bundle does NOT verify: ${report.problems.length} problems.\n  first problem: ${first.kind}: ${first.message}\n`);
    for (const p of report.problems.slice(1, 20)) process.stdout.write(`  ${p.kind}: ${p.message}\n`);
  }
  return report.ok ? 0 : 1;
}

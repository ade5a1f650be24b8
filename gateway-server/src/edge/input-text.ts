/**
 * Text that PostgreSQL cannot store: `text` refuses U+0000, and a lone UTF-16 surrogate has no
 * UTF-8 form (the driver would send U+FFFD or fail). Values taken from a request that would reach
 * a text column are refused with 400 INVALID_TEXT; values we only record are made storable
 * (audit/record.ts storableText).
 */
import { GatewayError } from '../errors';

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export function hasUnstorableText(s: string): boolean {
  return UNSTORABLE.test(s);
}

/** Each NUL and lone surrogate replaced with U+FFFD. */
export function replaceUnstorable(s: string): string {
  return s.replace(UNSTORABLE_ALL, '\ufffd');
}

/** Throw 400 INVALID_TEXT naming the field when `value` holds a NUL or a lone surrogate. */
export function requireStorableText(value: string, field: string): string {
  if (hasUnstorableText(value)) throw invalidText(field);
  return value;
}

function invalidText(field: string): GatewayError {
  return new GatewayError('INVALID_TEXT', `${field} contains a NUL character or an unpaired UTF-16 surrogate: send valid text`);
}

/** Path of the first string (key or value) in a parsed request part that PostgreSQL cannot store. */
export function findUnstorable(v: unknown, path: string, depth = 0): string | undefined {
  if (typeof v === 'string') return hasUnstorableText(v) ? path : undefined;
  // Buffers are raw inference bodies, checked where they are parsed; depth is bounded by json-scan.
  if (!v || typeof v !== 'object' || Buffer.isBuffer(v) || depth > 256) return undefined;
  for (const [k, x] of Object.entries(v)) {
    if (hasUnstorableText(k)) return path;
    const found = findUnstorable(x, `${path}.${k}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Refuse a request whose parameters, query or parsed body hold unstorable text. */
export function checkRequestText(req: { params?: unknown; query?: unknown; body?: unknown }): void {
  const where = findUnstorable(req.params, 'path') ?? findUnstorable(req.query, 'query') ?? findUnstorable(req.body, 'body');
  if (where) throw invalidText(where.replace(/^(path|query|body)\./, ''));
}

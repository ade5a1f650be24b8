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
  if (hasUnstorableText(value)) {
    throw new GatewayError('INVALID_TEXT', `${field} contains a NUL character or an unpaired UTF-16 surrogate: send valid text`);
  }
  return value;
}

/**
 * One pass over a raw JSON body before it is parsed, for the two things JSON.parse hides:
 *
 * - Duplicate top-level keys. JSON.parse keeps the last one; an upstream or proxy may keep the
 *   first. The gateway forwards the client's bytes unchanged, so a body with `"model"` twice
 *   would be checked on one value and served on the other. Refused with 400 JSON_DUPLICATE_KEY
 *   (rather than re-serialised) so the bytes forwarded stay the bytes the client signed off on.
 *   Keys are compared after unescaping (`"\u006dodel"` is `"model"`).
 * - Nesting deeper than MAX_JSON_DEPTH (128): refused with 400 JSON_TOO_DEEP before any parser
 *   or upstream spends time on it. Real Messages API bodies nest well under 20.
 *
 * The scan assumes nothing about validity: on malformed input it may report nothing, and the
 * parser that follows answers INVALID_JSON.
 */
export const MAX_JSON_DEPTH = 128;

export type JsonScanResult = { ok: true } | { ok: false; problem: 'too_deep' } | { ok: false; problem: 'duplicate_key'; key: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index of the quote closing the string that opens at `start`, or -1. */
function stringEnd(buf: Buffer, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, i);
    if (q < 0) return -1;
    let slashes = 0;
    for (let j = q - 1; j > start && buf[j] === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return q;
    i = q + 1;
  }
}

function keyText(buf: Buffer, start: number, end: number): string {
  const raw = buf.toString('utf8', start, end + 1);
  if (!raw.includes('\\')) return raw.slice(1, -1);
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw;
  }
}

export function scanJson(buf: Buffer, maxDepth = MAX_JSON_DEPTH): JsonScanResult {
  let depth = 0;
  // Inside the top-level object, at depth 1, a string right after `{` or `,` is a key.
  let topIsObject = false;
  let expectKey = false;
  const keys = new Set<string>();
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      const end = stringEnd(buf, i);
      if (end < 0) return { ok: true };
      if (depth === 1 && topIsObject && expectKey) {
        const key = keyText(buf, i, end);
        if (keys.has(key)) return { ok: false, problem: 'duplicate_key', key };
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      // { or [
      if (depth === 0) topIsObject = c === 0x7b;
      depth++;
      if (depth > maxDepth) return { ok: false, problem: 'too_deep' };
      if (depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      expectKey = topIsObject;
    }
  }
  return { ok: true };
}

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** End (exclusive) of the JSON value starting at `i`, or -1 when the bytes end first. */
function valueEnd(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) {
    const e = stringEnd(buf, i);
    return e < 0 ? -1 : e + 1;
  }
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < buf.length; j++) {
      const d = buf[j];
      if (d === QUOTE) {
        j = stringEnd(buf, j);
        if (j < 0) return -1;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < buf.length && buf[j] !== 0x2c && buf[j] !== 0x7d && buf[j] !== 0x5d && !isSpace(buf[j])) j++;
  return j;
}

/**
 * Byte span [start, end) of the value of top-level key `key` in a JSON object body (keys compared
 * after unescaping), for splicing one value without re-serialising the rest. Undefined when the
 * key is absent or the body is not a well-formed object.
 */
export function topLevelValueSpan(buf: Buffer, key: string): { start: number; end: number } | undefined {
  let i = 0;
  while (isSpace(buf[i])) i++;
  if (buf[i] !== 0x7b) return undefined;
  i++;
  for (;;) {
    while (isSpace(buf[i])) i++;
    if (buf[i] !== QUOTE) return undefined;
    const kEnd = stringEnd(buf, i);
    if (kEnd < 0) return undefined;
    const k = keyText(buf, i, kEnd);
    i = kEnd + 1;
    while (isSpace(buf[i])) i++;
    if (buf[i] !== 0x3a) return undefined;
    i++;
    while (isSpace(buf[i])) i++;
    const end = valueEnd(buf, i);
    if (end < 0 || end === i) return undefined;
    if (k === key) return { start: i, end };
    i = end;
    while (isSpace(buf[i])) i++;
    if (buf[i] !== 0x2c) return undefined;
    i++;
  }
}

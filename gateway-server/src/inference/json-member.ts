/**
 * Finds one top-level member of a JSON object (e.g. `usage`) while the document streams past,
 * without keeping the document: the Messages API writes `usage` after `content`, so a reply of
 * any size must be read to its end, but only the member's own bytes are kept (up to a bound).
 *
 * Works on bytes, not text: every byte that matters to JSON's structure is ASCII, and UTF-8
 * never uses ASCII bytes inside a multibyte character, so chunk boundaries cannot mislead it.
 * Strings (the bulk of a reply) are skipped with a native search for the next quote.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Keys longer than this cannot be the member asked for (even spelled with \u escapes). */
const MAX_KEY_BYTES = 256;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class JsonMemberScanner {
  /** The top-level value was an object and its closing brace has been seen. */
  complete = false;
  /** The input cannot be a JSON object (scanning stopped). */
  notAnObject = false;
  /** A matching member was longer than the bound and was dropped. */
  overflowed = false;

  private depth = 0;
  private started = false;
  private inString = false;
  /** Backslashes that ended the previous chunk inside a string (they may escape its first quote). */
  private carriedBackslashes = 0;
  /** At depth 1: the current member's value has begun (a string now is a value, not a key). */
  private afterColon = false;
  private keyParts: Buffer[] | undefined;
  private keyBytes = 0;
  private keyEscaped = false;
  private lastKeyMatches = false;
  private capture: Buffer[] | undefined;
  private captureBytes = 0;
  private found: Buffer | undefined;

  constructor(
    private readonly name: string,
    private readonly maxBytes = 64 * 1024,
  ) {}

  write(chunk: Uint8Array): void {
    if (this.complete || this.notAnObject) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    let captureFrom = this.capture ? 0 : -1;
    let keyFrom = this.keyParts ? 0 : -1;
    let i = 0;
    while (i < len) {
      if (this.inString) {
        const end = this.stringEnd(buf, i);
        if (end === -1) break;
        if (keyFrom !== -1) {
          this.keepKey(buf, keyFrom, end);
          keyFrom = -1;
          this.closeKey();
        }
        this.inString = false;
        i = end + 1;
        continue;
      }
      const c = buf[i]!;
      if (!this.started) {
        if (!isSpace(c)) {
          if (c !== OPEN_OBJECT) return void (this.notAnObject = true);
          this.started = true;
          this.depth = 1;
        }
        i++;
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        this.carriedBackslashes = 0;
        if (this.depth === 1 && !this.afterColon) {
          this.keyParts = [];
          this.keyBytes = 0;
          this.keyEscaped = false;
          keyFrom = i + 1;
        }
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.depth++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (this.depth === 1) {
          this.endMember(buf, captureFrom, i);
          this.complete = true;
          return;
        }
        this.depth--;
      } else if (this.depth === 1 && c === COLON) {
        this.afterColon = true;
        if (this.lastKeyMatches) {
          this.capture = [];
          this.captureBytes = 0;
          captureFrom = i + 1;
        }
      } else if (this.depth === 1 && c === COMMA) {
        this.endMember(buf, captureFrom, i);
        captureFrom = -1;
        this.afterColon = false;
        this.lastKeyMatches = false;
      }
      i++;
    }
    if (captureFrom !== -1) this.keepCapture(buf, captureFrom, len);
    if (keyFrom !== -1) this.keepKey(buf, keyFrom, len);
  }

  /** Bytes held between writes: the member being read or found, and a key being read. */
  retainedBytes(): number {
    return (this.found?.length ?? 0) + (this.capture ? this.captureBytes : 0) + (this.keyParts ? this.keyBytes : 0);
  }

  /** The member's value (the last one, as JSON.parse would pick), or undefined. */
  value(): unknown {
    // A document cut right after the member still yields it, if what was kept parses whole.
    const bytes = this.found ?? (this.capture && Buffer.concat(this.capture));
    if (!bytes) return undefined;
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      return undefined;
    }
  }

  /** Index of the quote that closes the current string, or -1 if it runs past this chunk. */
  private stringEnd(buf: Buffer, from: number): number {
    let carried = this.carriedBackslashes;
    this.carriedBackslashes = 0;
    for (let at = from; ; ) {
      const q = buf.indexOf(QUOTE, at);
      if (q === -1) {
        const run = backslashRun(buf, at, buf.length);
        this.carriedBackslashes = run === buf.length - at ? carried + run : run;
        return -1;
      }
      const run = backslashRun(buf, at, q);
      const escapes = run === q - at ? carried + run : run;
      if (escapes % 2 === 0) return q;
      carried = 0;
      at = q + 1;
    }
  }

  private keepKey(buf: Buffer, from: number, to: number): void {
    if (!this.keyParts) return;
    this.keyBytes += to - from;
    if (this.keyBytes > MAX_KEY_BYTES) return void (this.keyParts = undefined);
    const part = buf.subarray(from, to);
    if (part.includes(BACKSLASH)) this.keyEscaped = true;
    this.keyParts.push(Buffer.from(part));
  }

  private closeKey(): void {
    const parts = this.keyParts;
    this.keyParts = undefined;
    if (!parts) return void (this.lastKeyMatches = false);
    const raw = Buffer.concat(parts).toString('utf8');
    if (!this.keyEscaped) return void (this.lastKeyMatches = raw === this.name);
    try {
      this.lastKeyMatches = JSON.parse(`"${raw}"`) === this.name;
    } catch {
      this.lastKeyMatches = false;
    }
  }

  private keepCapture(buf: Buffer, from: number, to: number): void {
    if (!this.capture) return;
    this.captureBytes += to - from;
    if (this.captureBytes > this.maxBytes) {
      // A later member wins in JSON.parse; an unreadable later one leaves no answer rather than a stale one.
      this.capture = undefined;
      this.found = undefined;
      this.overflowed = true;
      return;
    }
    this.capture.push(Buffer.from(buf.subarray(from, to)));
  }

  private endMember(buf: Buffer, captureFrom: number, at: number): void {
    if (captureFrom === -1 || !this.capture) return;
    this.keepCapture(buf, captureFrom, at);
    if (this.capture) this.found = Buffer.concat(this.capture);
    this.capture = undefined;
  }
}

/** Length of the run of backslashes that ends just before `end` (not looking before `start`). */
function backslashRun(buf: Buffer, start: number, end: number): number {
  let k = end - 1;
  while (k >= start && buf[k] === BACKSLASH) k--;
  return end - 1 - k;
}

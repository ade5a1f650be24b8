/**
 * The streaming finder of a top-level JSON member. The oracle is JSON.parse of the whole
 * document (the runtime's parser, not ours), over hand-written traps and a seeded random corpus.
 */
import assert from 'node:assert/strict';
import { JsonMemberScanner } from '../../gateway-server/src/inference/json-member';

function scan(chunks: Uint8Array[], name = 'usage', max?: number): JsonMemberScanner {
  const s = new JsonMemberScanner(name, max);
  for (const c of chunks) s.write(c);
  return s;
}

function everySplit(doc: string, check: (s: JsonMemberScanner, at: number) => void): void {
  const bytes = Buffer.from(doc);
  for (let at = 0; at <= bytes.length; at++) check(scan([bytes.subarray(0, at), bytes.subarray(at)]), at);
}

/** Deterministic PRNG (mulberry32) so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', '"', '\\', '\\\\', '\\"', '{', '}', '[', ']', ':', ',', 'usage', '"usage":', 'é', '世', '🎉', ' ', '\n', '\u0000'];

function randomString(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  switch (k) {
    case 0:
      return randomString(r);
    case 1:
      return Math.floor(r() * 1e6) / 100;
    case 2:
      return r() < 0.5 ? null : r() < 0.5;
    case 3:
      return { input_tokens: Math.floor(r() * 1e5) };
    case 4:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) o[r() < 0.3 ? 'usage' : randomString(r)] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe('JSON member scanner', () => {
  it('finds the top-level member, not a nested one or one inside a string, at every split', () => {
    const doc =
      '{"content":[{"type":"text","text":"say \\"usage\\": {\\"input_tokens\\": 1} \\\\"},{"input":{"usage":{"input_tokens":2}}}],' +
      '"usage\\\\":{"input_tokens":3},"x":"\\\\\\"","usage" : { "input_tokens" : 4, "nested": {"a":[1,{"b":"}"}]} } }';
    const expected = JSON.parse(doc).usage;
    assert.deepEqual(expected, { input_tokens: 4, nested: { a: [1, { b: '}' }] } });
    everySplit(doc, (s, at) => {
      assert.deepEqual(s.value(), expected, `split at ${at}`);
      assert.equal(s.complete, true);
    });
  });

  it('reads a key spelled with escapes, and takes the last of duplicate members as JSON.parse does', () => {
    const doc = '{"usage":{"input_tokens":1},"us\\u0061ge":{"input_tokens":2}}';
    assert.deepEqual(JSON.parse(doc).usage, { input_tokens: 2 });
    everySplit(doc, (s, at) => assert.deepEqual(s.value(), { input_tokens: 2 }, `split at ${at}`));
  });

  it('keeps multibyte characters whole inside the member across chunks', () => {
    const doc = '{"a":"🎉","usage":{"note":"世界 🎉","input_tokens":5}}';
    everySplit(doc, (s, at) => assert.deepEqual(s.value(), { note: '世界 🎉', input_tokens: 5 }, `split at ${at}`));
  });

  it('says so when the document is not an object, or has no such member, or ends early', () => {
    const arr = scan([Buffer.from('[{"usage":{"input_tokens":1}}]')]);
    assert.equal(arr.notAnObject, true);
    assert.equal(arr.value(), undefined);
    const none = scan([Buffer.from('{"a":{"usage":1}}')]);
    assert.equal(none.complete, true);
    assert.equal(none.value(), undefined);
    const early = scan([Buffer.from('{"content":"abc')]);
    assert.equal(early.complete, false);
    assert.equal(early.value(), undefined);
  });

  it('drops a member larger than its bound instead of keeping it', () => {
    const doc = `{"usage":{"pad":"${'x'.repeat(2000)}","input_tokens":1}}`;
    const s = scan([Buffer.from(doc)], 'usage', 1000);
    assert.equal(s.value(), undefined);
    assert.equal(s.overflowed, true);
    const ok = scan([Buffer.from(doc)], 'usage', 4000);
    assert.deepEqual(ok.value(), { pad: 'x'.repeat(2000), input_tokens: 1 });
  });

  it('holds only the member while a 50 MB reply streams past', () => {
    const s = new JsonMemberScanner('usage');
    const chunk = Buffer.alloc(64 * 1024, 'y');
    s.write(Buffer.from('{"id":"m","content":[{"type":"text","text":"'));
    for (let sent = 0; sent < 50_000_000; sent += chunk.length) {
      s.write(chunk);
      assert.equal(s.retainedBytes(), 0);
    }
    const tail = Buffer.from('"}],"usage":{"input_tokens":7,"output_tokens":8}}');
    s.write(tail);
    assert.deepEqual(s.value(), { input_tokens: 7, output_tokens: 8 });
    assert.equal(s.retainedBytes(), '{"input_tokens":7,"output_tokens":8}'.length);
  });

  it('matches JSON.parse on a random corpus cut into random chunks', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const r = rng(seed);
      const top: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 6); i >= 0; i--) top[r() < 0.3 ? 'usage' : randomString(r)] = randomValue(r, 1);
      const doc = Buffer.from(JSON.stringify(top, null, r() < 0.3 ? 1 : undefined));
      const chunks: Buffer[] = [];
      for (let at = 0; at < doc.length; ) {
        const n = 1 + Math.floor(r() * 9);
        chunks.push(doc.subarray(at, at + n));
        at += n;
      }
      const s = scan(chunks);
      assert.deepEqual(s.value(), top.usage, `seed ${seed}: ${doc.toString()}`);
      assert.equal(s.complete, true, `seed ${seed}`);
    }
  });
});

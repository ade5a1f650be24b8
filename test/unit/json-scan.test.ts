import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH, scanJson } from '../../gateway-server/src/edge/json-scan';

const scan = (s: string) => scanJson(Buffer.from(s));

describe('json scan (duplicate top-level keys, nesting depth)', () => {
  it('passes ordinary Messages API bodies, nested keys repeated at other levels included', () => {
    assert.deepEqual(scan('{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"metadata":{"model":"z"}}'), { ok: true });
    assert.deepEqual(scan('{"a":"\\"model\\":1,","model":"m"}'), { ok: true }, 'quoted text that looks like a key');
    assert.deepEqual(scan('{"a":"\\\\","b":"c"}'), { ok: true }, 'escaped backslash before a closing quote');
    assert.deepEqual(scan('[{"a":1},{"a":2}]'), { ok: true }, 'top-level array');
  });

  it('finds a duplicate top-level key, also when one spelling is escaped', () => {
    assert.deepEqual(scan('{"model":"claude-opus","max_tokens":1,"model":"claude-haiku"}'), { ok: false, problem: 'duplicate_key', key: 'model' });
    assert.deepEqual(scan('{"model":"a", "\\u006dodel":"b"}'), { ok: false, problem: 'duplicate_key', key: 'model' });
    assert.deepEqual(scan('{ "stream" : true , "x":{"stream":1}, "stream":false}'), { ok: false, problem: 'duplicate_key', key: 'stream' });
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} and accepts exactly ${MAX_JSON_DEPTH}`, () => {
    const nest = (n: number) => '{"a":' + '['.repeat(n - 1) + ']'.repeat(n - 1) + '}';
    assert.deepEqual(scan(nest(MAX_JSON_DEPTH)), { ok: true });
    assert.deepEqual(scan(nest(MAX_JSON_DEPTH + 1)), { ok: false, problem: 'too_deep' });
    assert.deepEqual(scan('['.repeat(100_000)), { ok: false, problem: 'too_deep' });
  });

  it('does not throw on malformed input', () => {
    for (const s of ['', '"', '{"a', '{"a":"\\', ']]]]', '{,,,}', '\u0000']) assert.doesNotThrow(() => scan(s));
  });
});

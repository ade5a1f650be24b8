/**
 * The Responses usage reader that feeds billing for Codex traffic. Replies are written out by
 * hand (not by the gateway or the test mock); expected numbers are worked out in the comments.
 */
import assert from 'node:assert/strict';
import { ResponsesUsageTap } from '../../gateway-server/src/inference/responses-usage-tap';
import { PriceBook } from '../../gateway-server/src/spend/pricing';

const USAGE = '{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":700,"output_tokens_details":{"reasoning_tokens":512},"total_tokens":5700}';
const EVENTS: [string, string][] = [
  ['response.created', '{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","usage":null}}'],
  ['response.output_text.delta', '{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"héllo 世界 🎉","logprobs":[]}'],
  ['response.completed', `{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","status":"completed","usage":${USAGE}}}`],
];
const sse = (eol: string, events = EVENTS) => Buffer.from(events.map(([t, d]) => `event: ${t}${eol}data: ${d}${eol}${eol}`).join(''));

function feedBytewise(tap: ResponsesUsageTap, buf: Buffer) {
  for (let i = 0; i < buf.length; i++) tap.write(buf.subarray(i, i + 1));
  return tap.finish();
}

describe('Responses usage reader', () => {
  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
    it(`reads response.completed usage from a stream split byte by byte (${name})`, () => {
      const tap = new ResponsesUsageTap(true);
      const u = feedBytewise(tap, sse(eol));
      // input 5000 of which 4096 cached → 904 uncached; output 700 of which 512 reasoning.
      assert.deepEqual([u.input_tokens, u.cache_read_input_tokens, u.output_tokens, u.reasoning_output_tokens], [904, 4096, 700, 512]);
      assert.equal(tap.sawMessageStop, true);
      assert.equal(tap.sawError, false);
    });
  }

  it('prices reasoning once: (5000 − 4096) × 1.25 + 4096 × 0.125 + 700 × 10 µ$ for gpt-5-codex', () => {
    const u = feedBytewise(new ResponsesUsageTap(true), sse('\n'));
    const book = new PriceBook([], 1);
    // 904 × 1.25 = 1130; 4096 × 0.125 = 512; 700 × 10 = 7000 → 8642 µ$.
    assert.equal(book.cost(u, book.rates('gpt-5-codex')), 8642n);
  });

  it('a stream cut before its terminal event has no usage and is marked aborted', () => {
    const tap = new ResponsesUsageTap(true);
    const u = feedBytewise(tap, sse('\n', EVENTS.slice(0, 2)));
    assert.equal(tap.sawMessageStop, false);
    assert.equal(u.output_tokens, 0);
    assert.ok(tap.outputChars > 0, 'the deltas seen are the basis of the estimate');
  });

  it('response.failed and error events mark the stream as ended by the upstream', () => {
    const tap = new ResponsesUsageTap(true);
    tap.write(sse('\n', [['response.failed', '{"type":"response.failed","sequence_number":3,"response":{"status":"failed","usage":null}}']]));
    tap.finish();
    assert.equal(tap.sawError, true);
  });

  it('reads the top-level usage of a JSON reply of any size, split anywhere', () => {
    const body = Buffer.from(`{"id":"resp_1","object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"${'x'.repeat(70_000)}"}]}],"usage":${USAGE}}`);
    const tap = new ResponsesUsageTap(false);
    for (let i = 0; i < body.length; i += 997) tap.write(body.subarray(i, i + 997));
    const u = tap.finish();
    assert.deepEqual([u.input_tokens, u.cache_read_input_tokens, u.output_tokens, u.reasoning_output_tokens], [904, 4096, 700, 512]);
    assert.equal(tap.sawMessageStop, true);
  });
});

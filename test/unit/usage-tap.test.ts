/**
 * The usage tap that feeds billing. The replies are written out by hand below (not produced by
 * the gateway's own SSE writer), and every expected number is worked out in the comments.
 */
import assert from 'node:assert/strict';
import { UsageTap, type Usage } from '../../gateway-server/src/inference/usage-tap';
import { PriceBook } from '../../gateway-server/src/spend/pricing';
import { ReplyTap } from '../../extension/src/proxy/reply-tap';

// 世 is 3 UTF-8 bytes, 🎉 4 (a surrogate pair in JS): both get split by byte-boundary chunking.
const TEXT = 'héllo 世界 🎉';
const DELTA_DATA = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${TEXT}"}}`;

const EVENTS: [string, string][] = [
  [
    'message_start',
    '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],' +
      '"usage":{"input_tokens":1234,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":100},"cache_read_input_tokens":4001,"output_tokens":1}}}',
  ],
  ['content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'],
  ['ping', '{"type":"ping"}'],
  ['content_block_delta', DELTA_DATA],
  ['content_block_delta', DELTA_DATA],
  ['content_block_stop', '{"type":"content_block_stop","index":0}'],
  ['message_delta', '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":567,"server_tool_use":{"web_search_requests":2}}}'],
  ['message_stop', '{"type":"message_stop"}'],
];

function sse(eol: string, events = EVENTS): Buffer {
  return Buffer.from(events.map(([type, data]) => `event: ${type}${eol}data: ${data}${eol}${eol}`).join(''));
}

const EXPECTED: Usage = {
  input_tokens: 1234,
  output_tokens: 567,
  cache_creation_input_tokens: 300,
  cache_creation_1h_input_tokens: 100,
  cache_read_input_tokens: 4001,
  web_search_requests: 2,
};

// Rates chosen here (USD per million tokens; web search USD per search), not the list prices:
//   input     1234 × 3    =  3,702
//   output     567 × 15   =  8,505
//   5m write   200 × 3.75 =    750
//   1h write   100 × 6    =    600
//   read      4001 × 0.3  =  1,200.3
//   searches     2 × 0.01 $ = 20,000
//   total 34,757.3 µ$, rounded up once → 34,758 µ$.
const PRICES = new PriceBook([{ model: 'claude-sonnet-4-6', input: 3, output: 15, cache_write: 3.75, cache_write_1h: 6, cache_read: 0.3, web_search: 0.01 }], 1);
const EXPECTED_MICROS = 34_758n;
// Each delta event's data is 91 UTF-16 units (80 of envelope, TEXT's 11: 🎉 counts two),
// less the 60-character allowance for the envelope: 2 × 31.
const EXPECTED_OUTPUT_CHARS = 62;

function run(chunks: Buffer[], streaming = true): UsageTap {
  const tap = new UsageTap(streaming);
  for (const c of chunks) tap.write(c);
  tap.finish();
  return tap;
}

function splitAt(bytes: Buffer, at: number): Buffer[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

describe('usage tap', () => {
  it('checks its own fixture: multibyte text, and the numbers the comments work out', () => {
    assert.equal(TEXT.length, 11);
    assert.equal(Buffer.byteLength(TEXT), 18);
    assert.equal(DELTA_DATA.length, 91);
    assert.equal(PRICES.cost(EXPECTED, PRICES.rates('claude-sonnet-4-6')), EXPECTED_MICROS);
  });

  for (const [name, eol] of [
    ['\\n', '\n'],
    ['\\r\\n', '\r\n'],
    ['\\r', '\r'],
  ] as const) {
    it(`reads usage with ${name} framing, split at every byte boundary, priced to the micro-dollar`, () => {
      const bytes = sse(eol);
      for (let at = 0; at <= bytes.length; at++) {
        const tap = run(splitAt(bytes, at));
        assert.deepEqual(tap.usage, EXPECTED, `split at byte ${at}`);
        assert.equal(tap.sawMessageStop, true, `split at byte ${at}`);
        assert.equal(tap.outputChars, EXPECTED_OUTPUT_CHARS, `split at byte ${at}`);
        assert.equal(PRICES.cost(tap.usage, PRICES.rates('claude-sonnet-4-6')), EXPECTED_MICROS);
      }
    });

    it(`reads usage with ${name} framing fed one byte at a time`, () => {
      const bytes = sse(eol);
      const tap = run([...bytes].map((b) => Buffer.from([b])));
      assert.deepEqual(tap.usage, EXPECTED);
      assert.equal(tap.sawMessageStop, true);
      assert.equal(tap.outputChars, EXPECTED_OUTPUT_CHARS);
    });
  }

  it('joins multi-line data and ignores comments and ids', () => {
    const start = EVENTS[0]![1];
    const cut = start.indexOf('"usage"');
    const bytes = Buffer.from(`: keep-alive\n\nid: 7\nevent: message_start\ndata: ${start.slice(0, cut)}\ndata: ${start.slice(cut)}\n\n` + sse('\n', EVENTS.slice(1)).toString());
    const tap = run([bytes]);
    assert.deepEqual(tap.usage, EXPECTED);
  });

  it('marks a stream without message_stop as cut and counts the deltas it saw', () => {
    const tap = run([sse('\n', EVENTS.slice(0, 4))]);
    assert.equal(tap.sawMessageStop, false);
    assert.equal(tap.outputChars, 31);
    assert.equal(tap.usage.input_tokens, 1234);
    assert.equal(tap.usage.output_tokens, 1);
  });

  it('notices an SSE error event in the stream', () => {
    const tap = run([Buffer.from('event: error\r\ndata: {"type":"error","error":{"type":"overloaded_error","message":"x"}}\r\n\r\n')]);
    assert.equal(tap.sawError, true);
    assert.equal(tap.sawMessageStop, false);
  });

  describe('JSON replies', () => {
    const json = Buffer.from(
      `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[{"type":"text","text":"${TEXT} \\"usage\\": {\\"input_tokens\\": 9}"},` +
        '{"type":"tool_use","id":"t","name":"n","input":{"usage":{"input_tokens":999999}}}],"stop_reason":"end_turn",' +
        '"usage":{"input_tokens":1234,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":100},' +
        '"cache_read_input_tokens":4001,"output_tokens":567,"server_tool_use":{"web_search_requests":2}}}',
    );

    it('reads the top-level usage, split at every byte boundary, priced to the micro-dollar', () => {
      for (let at = 0; at <= json.length; at++) {
        const tap = run(splitAt(json, at), false);
        assert.deepEqual(tap.usage, EXPECTED, `split at byte ${at}`);
        assert.equal(tap.sawMessageStop, true);
        assert.equal(PRICES.cost(tap.usage, PRICES.rates('claude-sonnet-4-6')), EXPECTED_MICROS);
      }
    });

    it('treats a JSON reply cut before its end as cut, keeping a usage member that arrived whole', () => {
      const tap = run([json.subarray(0, json.length - 1)], false);
      assert.equal(tap.sawMessageStop, false);
      // The usage member itself was complete, only the closing brace is missing: it still counts.
      assert.deepEqual(tap.usage, EXPECTED);
      const early = run([json.subarray(0, 100)], false);
      assert.equal(early.sawMessageStop, false);
      assert.equal(early.sawUsage, false);
    });
  });

  it('serves the extension: its reply tap reads CRLF streams split at every byte the same way', () => {
    const bytes = sse('\r\n');
    for (let at = 0; at <= bytes.length; at++) {
      const tap = new ReplyTap(true);
      for (const c of splitAt(bytes, at)) tap.write(c);
      // Input counts prompt, cache writes and cache reads: 1234 + 300 + 4001.
      assert.deepEqual(tap.finish(), { model: 'claude-sonnet-4-6', inputTokens: 5535, outputTokens: 567 }, `split at byte ${at}`);
    }
  });
});

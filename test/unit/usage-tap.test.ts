import assert from 'node:assert/strict';
import { UsageTap } from '../../gateway-server/src/inference/usage-tap';
import { scriptedEvents, scriptedMessage, sseEvent } from '../../gateway-server/src/routing/sse';

describe('usage tap', () => {
  const reply = { id: 'm', model: 'x', text: 'hello world', inputTokens: 10, outputTokens: 7, cacheCreationInputTokens: 3, cacheReadInputTokens: 4 };

  it('reads usage from message_start and message_delta across arbitrary chunk splits', () => {
    const bytes = Buffer.from(scriptedEvents(reply).map((e) => sseEvent(e.type, e.data)).join(''));
    for (const size of [1, 7, 64, bytes.length]) {
      const tap = new UsageTap(true);
      for (let i = 0; i < bytes.length; i += size) tap.write(bytes.subarray(i, i + size));
      const u = tap.finish();
      assert.deepEqual([u.input_tokens, u.output_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens], [10, 7, 3, 4]);
      assert.ok(tap.sawMessageStop);
    }
  });

  it('reads usage from a JSON body, including 1h cache writes and web searches', () => {
    const msg = scriptedMessage(reply) as { usage: Record<string, unknown> };
    msg.usage.cache_creation = { ephemeral_5m_input_tokens: 1, ephemeral_1h_input_tokens: 2 };
    msg.usage.server_tool_use = { web_search_requests: 3 };
    const tap = new UsageTap(false);
    tap.write(Buffer.from(JSON.stringify(msg)));
    const u = tap.finish();
    assert.equal(u.cache_creation_1h_input_tokens, 2);
    assert.equal(u.web_search_requests, 3);
  });

  it('marks a stream without message_stop as cut and estimates its output', () => {
    const events = scriptedEvents(reply);
    const tap = new UsageTap(true);
    for (const e of events.slice(0, 5)) tap.write(Buffer.from(sseEvent(e.type, e.data)));
    tap.finish();
    assert.equal(tap.sawMessageStop, false);
    assert.ok(tap.outputChars >= 0);
  });

  it('notices an SSE error event in the stream', () => {
    const tap = new UsageTap(true);
    tap.write(Buffer.from(sseEvent('error', { type: 'error', error: { type: 'overloaded_error', message: 'x' } })));
    assert.equal(tap.sawError, true);
  });

  it('counts delta payload characters across data lines and chunk splits', () => {
    const payload = JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x'.repeat(100) } });
    const bytes = Buffer.from(`event: content_block_delta\ndata: ${payload}\n\nevent: content_block_delta\ndata: ${payload.slice(0, 50)}\ndata:  ${payload.slice(50)}\n\n`);
    for (const size of [1, 5, 33, bytes.length]) {
      const tap = new UsageTap(true);
      for (let i = 0; i < bytes.length; i += size) tap.write(bytes.subarray(i, i + size));
      assert.equal(tap.outputChars, 2 * (payload.length - 60), `chunks of ${size}`);
    }
  });
});

/**
 * The mock upstream's prompt cache (test/support/mock-prompt-cache.ts), checked against figures
 * worked out by hand from its rules: units of ceil(JSON bytes / 4) tokens, markers not counted.
 */
import assert from 'node:assert/strict';
import { MockPromptCache, mockTokenCount } from '../support/mock-prompt-cache';
import { startMockAnthropic } from '../support/mock-anthropic';

const M = { type: 'ephemeral' };
/** A text block whose JSON ({"type":"text","text":"…"}) is 25 + n bytes. */
const text = (n: number, marked = false) => ({ type: 'text', text: 'a'.repeat(n), ...(marked ? { cache_control: M } : {}) });
/** Tokens of a user content block unit: ["user",{"type":"text","text":"…"}] is 34 + n bytes. */
const userTokens = (n: number) => Math.ceil((34 + n) / 4);

describe('the mock upstream prompt cache', () => {
  it('counts a prompt the same with or without markers', () => {
    const body = { model: 'm', system: [text(95, true)], messages: [{ role: 'user', content: [text(6, true)] }] };
    const plain = { model: 'm', system: [text(95)], messages: [{ role: 'user', content: [text(6)] }] };
    // System block 25 + 95 = 120 bytes = 30 tokens; the user block 34 + 6 = 40 bytes = 10 tokens.
    assert.equal(mockTokenCount(body), 40);
    assert.equal(mockTokenCount(plain), 40);
  });

  it('writes up to the last breakpoint, then reads the longest written prefix; no marker, no cache', () => {
    const cache = new MockPromptCache();
    const sys = [text(95, true)]; // 30 tokens
    const turn1 = { model: 'm', system: sys, messages: [{ role: 'user', content: [text(6, true)] }] };
    assert.deepEqual(cache.use(turn1), { input_tokens: 0, cache_creation_input_tokens: 40, cache_read_input_tokens: 0 });
    // The next turn: the old breakpoint moved to the new last block; the old prefix (40) is read.
    const turn2 = { model: 'm', system: sys, messages: [{ role: 'user', content: [text(6)] }, { role: 'assistant', content: [text(48)] }, { role: 'user', content: [text(0, true), text(4)] }] };
    const assistant = Math.ceil((39 + 48) / 4); // ["assistant",{…}] is 39 + n bytes
    assert.deepEqual(cache.use(turn2), { input_tokens: userTokens(4), cache_creation_input_tokens: assistant + userTokens(0), cache_read_input_tokens: 40 });
    // The same prompt again: all of it up to the breakpoint is read.
    assert.deepEqual(cache.use(turn2), { input_tokens: userTokens(4), cache_creation_input_tokens: 0, cache_read_input_tokens: 40 + assistant + userTokens(0) });
    // Without markers: all input, nothing read or written, whatever is cached.
    const bare = JSON.parse(JSON.stringify(turn2).replaceAll(',"cache_control":{"type":"ephemeral"}', '')) as Record<string, unknown>;
    assert.deepEqual(cache.use(bare), { input_tokens: mockTokenCount(turn2), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    // Another model has its own cache.
    assert.equal(cache.use({ ...turn1, model: 'n' }).cache_read_input_tokens, 0);
    // A top-level cache_control makes the last message block a breakpoint.
    assert.deepEqual(new MockPromptCache().use({ ...bare, cache_control: M }), { input_tokens: 0, cache_creation_input_tokens: mockTokenCount(turn2), cache_read_input_tokens: 0 });
  });

  it('reports the simulated usage on the wire and records it', async () => {
    const mock = await startMockAnthropic({ promptCache: true });
    try {
      const body = { model: 'm', max_tokens: 10, system: [text(95, true)], messages: [{ role: 'user', content: [text(6, true)] }] };
      mock.queue = [{ reply: { inputTokens: 999, outputTokens: 7 } }, { reply: { inputTokens: 999, outputTokens: 7 } }];
      const send = async (path: string) => (await fetch(`${mock.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<Record<string, unknown>>;
      assert.deepEqual(await send('/v1/messages/count_tokens'), { input_tokens: 40 });
      const first = (await send('/v1/messages')) as { usage: Record<string, number> };
      const second = (await send('/v1/messages')) as { usage: Record<string, number> };
      assert.deepEqual([first.usage.input_tokens, first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens, first.usage.output_tokens], [0, 40, 0, 7]);
      assert.deepEqual([second.usage.input_tokens, second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens], [0, 0, 40]);
      assert.deepEqual(mock.promptUsages[2], { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 40 });
      assert.deepEqual(mock.overCount, []);
    } finally {
      await mock.close();
    }
  });
});

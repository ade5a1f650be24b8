/**
 * Near-cap lowering of `max_tokens`: only that value changes in the client's bytes; a thinking
 * budget stays valid (lowered with it, or a sentence why not); the lowered worst case fits the budget.
 */
import assert from 'node:assert/strict';
import { lowerMaxTokens } from '../../gateway-server/src/spend/near-cap';
import { topLevelValueSpan } from '../../gateway-server/src/edge/json-scan';
import { PriceBook } from '../../gateway-server/src/spend/pricing';
import { countBody } from '../../gateway-server/src/spend/prompt-count';

const lower = (text: string, m: number) => lowerMaxTokens(Buffer.from(text), JSON.parse(text) as Record<string, unknown>, m);

describe('lowering max_tokens near a cap', () => {
  it('rewrites only the top-level max_tokens value, whatever the spacing, escapes or nested max_tokens', () => {
    const text = '{ "model" : "claude-opus-4-8",\n "messages":[{"role":"user","content":"{\\"max_tokens\\": 5}"}],"tools":[{"max_tokens":7}],\n  "max\\u005ftokens" :\t64000 , "stream":true}';
    const r = lower(text, 2048);
    assert.ok(r.ok);
    assert.equal(r.rawBody.toString(), text.replace('64000', '2048'));
    assert.equal(r.body.max_tokens, 2048);
    assert.equal((JSON.parse(r.rawBody.toString()) as { max_tokens: number }).max_tokens, 2048);
  });

  it('finds the span of a top-level value after strings with escaped quotes and nested objects', () => {
    const buf = Buffer.from('{"a":"x\\"}y","b":{"c":[1,{"d":"}"}]},"max_tokens":10}');
    const s = topLevelValueSpan(buf, 'max_tokens')!;
    assert.equal(buf.toString('utf8', s.start, s.end), '10');
    assert.equal(topLevelValueSpan(Buffer.from('[1]'), 'max_tokens'), undefined);
    assert.equal(topLevelValueSpan(Buffer.from('{"max_tokens":'), 'max_tokens'), undefined);
  });

  it('lowers a thinking budget that would not stay below max_tokens; refuses with a sentence below 1024', () => {
    const text = '{"model":"m","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":16000},"messages":[]}';
    const r = lower(text, 8000);
    assert.ok(r.ok);
    assert.equal(r.rawBody.toString(), '{"model":"m","max_tokens":8000,"thinking":{"type":"enabled","budget_tokens":7999},"messages":[]}');
    const kept = lower(text, 20000);
    assert.ok(kept.ok);
    assert.equal(kept.rawBody.toString(), text.replace('32000', '20000'), 'a budget already below the new max_tokens is left alone');
    const refused = lower(text, 1024);
    assert.ok(!refused.ok);
    assert.match(refused.reason, /budget_tokens \(16000\) cannot be lowered below 1024/);
    assert.ok(!lower('{"model":"m","messages":[]}', 2000).ok, 'no max_tokens to lower');
  });

  it('the lowered worst case is the largest that fits the budget', () => {
    const book = new PriceBook([], 1);
    const body = { model: 'claude-opus-4-8', max_tokens: 64000, messages: [] };
    const wc = book.worstCase('claude-opus-4-8', body, 80_000);
    // Opus 4.5+: 81 000 input tokens × $5 + 64 000 × $25 per million.
    assert.equal(wc.reserve, 81_000n * 5n + 64_000n * 25n);
    for (const budget of [1_000_000n, 500_000n, 405_025n, 405_024n, 2_005_000n, 10_000_000n]) {
      const m = book.affordableMaxTokens(wc, budget);
      if (m === 0) {
        assert.ok(book.reserveFor(wc, 1) > budget);
        continue;
      }
      assert.ok(book.reserveFor(wc, m) <= budget, `${m} fits ${budget}`);
      assert.ok(m === 64000 || book.reserveFor(wc, m + 1) > budget, `${m + 1} does not fit ${budget}`);
    }
    assert.equal(book.affordableMaxTokens(wc, 1_000_000n), Math.floor((1_000_000 - 405_000) / 25));
  });

  it('a counted prompt bounds the input side by count + 2% + 100 tokens, never above the byte bound; lowering keeps it', () => {
    const book = new PriceBook([], 1);
    const body = { model: 'claude-opus-4-8', max_tokens: 64000, system: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral' } }], messages: [] };
    const raw = Buffer.from(JSON.stringify(body));
    const wc = book.worstCase('claude-opus-4-8', body, 87_000, raw);
    // Byte bound: 88 000 tokens at the $6.25 cache-write rate, 64 000 output at $25.
    assert.equal(wc.reserve, (88_000n * 6_250_000n + 64_000n * 25_000_000n) / 1_000_000n);
    const counted = book.withPromptCount(wc, 21_747);
    // 21 747 + 435 (2%, rounded up) + 100 = 22 282 tokens at $6.25.
    assert.equal(counted.reserve, (22_282n * 6_250_000n + 64_000n * 25_000_000n + 999_999n) / 1_000_000n);
    assert.ok(counted.counted);
    assert.equal(book.withBodyBytes(counted, 87_000, 86_990), counted, 'rewriting max_tokens does not change a counted prompt');
    assert.equal(book.withPromptCount(wc, 200_000), wc, 'a count above the byte bound keeps the byte bound');
    assert.equal(book.leastWithCount(wc, 1024), (100n * 6_250_000n + 1024n * 25_000_000n) / 1_000_000n);
  });

  it('count_tokens gets only the prompt-bearing fields of a Messages request', () => {
    const body = { model: 'm', max_tokens: 5, stream: true, metadata: { user_id: 'u' }, messages: [{ role: 'user', content: 'hi' }], system: 's', tools: [], thinking: { type: 'adaptive' }, output_config: { effort: 'high' } };
    assert.deepEqual(countBody(body), { model: 'm', messages: [{ role: 'user', content: 'hi' }], system: 's', tools: [], thinking: { type: 'adaptive' } });
  });
});

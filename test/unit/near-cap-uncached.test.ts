/**
 * Near a cap, a request that fits only with its prompt at the plain input rate goes out without
 * its prompt-caching markers (spend/uncached.ts, near-cap.ts admitNearCap). Figures are Opus 4.5+
 * list prices written out here ($5 in, $6.25 5-minute cache write, $10 1-hour, $25 out per million).
 */
import assert from 'node:assert/strict';
import { PriceBook } from '../../gateway-server/src/spend/pricing';
import { admitNearCap, nearCapDetail, type Attempt, type NearCapRefused } from '../../gateway-server/src/spend/near-cap';
import { uncachedVariant, withoutCacheControl } from '../../gateway-server/src/spend/uncached';
import { bedrockBody } from '../../gateway-server/src/routing/bedrock';
import { vertexBody } from '../../gateway-server/src/routing/vertex';
import type { Admission, AdmitContext } from '../../gateway-server/src/inference/hooks';
import { unmarked } from '../support/mock-prompt-cache';

const MODEL = 'claude-opus-4-8';
const EPHEMERAL = { type: 'ephemeral' };
const PAD = 'x'.repeat(100_000);

/** Claude Code's shape: markers on a system block, a tool, a tool_result's own block and the last user block. */
function claudeCodeLike(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: MODEL,
    max_tokens: 64000,
    stream: true,
    thinking: { type: 'adaptive' },
    system: [{ type: 'text', text: 'You are Claude Code.' }, { type: 'text', text: 'Be brief.', cache_control: EPHEMERAL }],
    tools: [
      { name: 'Read', description: 'read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
      { name: 'Edit', description: 'edit a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } }, cache_control: EPHEMERAL },
    ],
    messages: [
      { role: 'user', content: 'fix the bug' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'Read', input: { path: 'a.ts' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'text', text: PAD, cache_control: EPHEMERAL }] },
          { type: 'text', text: 'now fix it', cache_control: EPHEMERAL },
        ],
      },
    ],
    ...extra,
  };
}

function ctxOf(body: Record<string, unknown>, count?: number): AdmitContext {
  const rawBody = Buffer.from(JSON.stringify(body));
  return {
    principal: { sub: 'dev', groups: [] } as unknown as AdmitContext['principal'],
    model: MODEL,
    body,
    rawBody,
    rawBodyBytes: rawBody.length,
    requestId: 'req_1',
    ...(count !== undefined ? { countPromptTokens: async () => count } : {}),
  };
}

/** A budget of `budget` µ$: admits what fits and records what it reserved and forwarded. */
function budgetOf(budget: bigint) {
  const taken: { need: bigint; forward?: Admission['forward'] }[] = [];
  const attempt: Attempt = async (need, forward) => {
    if (need > budget) return { left: budget, rows: [] };
    taken.push({ need, forward });
    return { headers: {}, ...(forward ? { forward } : {}), settle: async () => 0 };
  };
  return { attempt, taken };
}

const book = new PriceBook([], 1);
const opts = (dropCacheControl = true) => ({ prices: book, floor: 1024, countTokens: true, dropCacheControl });
/** The worst case of a body as the gate computes it: byte bound at the dearest input rate its markers ask for. */
const wcOf = (b: Record<string, unknown>) => book.worstCase(MODEL, b, Buffer.byteLength(JSON.stringify(b)), Buffer.from(JSON.stringify(b)));
const hasMarker = (v: unknown) => JSON.stringify(v).includes('"cache_control"');
// A count of 20 000 is bounded at 20 000 + 400 (2%) + 100 = 20 500 tokens.
const PROMPT = 20_500n;

describe('near a cap: a request that fits only without prompt caching goes out without cache_control', () => {
  it('removes every marker (top level, system, tools, content blocks, a tool_result\'s blocks) and nothing else', () => {
    const body = claudeCodeLike({ cache_control: EPHEMERAL });
    const out = withoutCacheControl(body)!;
    assert.ok(!hasMarker(out));
    assert.deepEqual(out, unmarked(body));
    assert.ok(hasMarker(body), 'the client body is not modified');
    assert.equal(withoutCacheControl({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), undefined, 'nothing to remove');
  });

  it('offers no uncached variant when it would not lower the input rate', () => {
    const plainBody = { model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
    assert.equal(uncachedVariant(book, ctxOf(plainBody), wcOf(plainBody)), undefined, 'no markers');
    // A tool schema property named cache_control is not a marker and is left alone; its bytes keep the cache-write bound.
    const schema = claudeCodeLike();
    (schema.tools as Record<string, unknown>[])[0]!.input_schema = { type: 'object', properties: { cache_control: { type: 'string' } } };
    assert.equal(uncachedVariant(book, ctxOf(schema), wcOf(schema)), undefined, 'a "cache_control" left in the bytes');
    assert.equal(uncachedVariant(book, { ...ctxOf(claudeCodeLike()), family: 'openai' }, wcOf(claudeCodeLike())), undefined, 'not a Messages body');
    const v = uncachedVariant(book, ctxOf(claudeCodeLike()), wcOf(claudeCodeLike()))!;
    assert.equal(v.wc.inputRate, 5_000_000n);
    assert.equal(v.ctx.rawBodyBytes, v.ctx.rawBody!.length);
  });

  it('keeps caching while the request fits with it (max_tokens lowered)', async () => {
    const body = claudeCodeLike();
    const { attempt, taken } = budgetOf(200_000n);
    const r = await admitNearCap(opts(), ctxOf(body, 20_000), wcOf(body), attempt);
    assert.ok(!('short' in r));
    // At $6.25: 20 500 × 6.25 = 128 125 µ$; (200 000 − 128 125) / 25 = 2875 output tokens.
    assert.equal(taken.length, 1);
    assert.equal(taken[0]!.forward!.rawBody.toString(), JSON.stringify(body).replace('"max_tokens":64000', '"max_tokens":2875'));
  });

  for (const [ttl, rate] of [[undefined, 6_250_000n], ['1h', 10_000_000n]] as const) {
    it(`fits only at the input rate (${ttl ?? '5m'} markers): forwarded without markers, reserved at $5, never more than the budget`, async () => {
      const body = claudeCodeLike(ttl ? { system: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl } }] } : {});
      const raw = Buffer.from(JSON.stringify(body));
      const wc = book.worstCase(MODEL, body, raw.length, raw);
      assert.equal(wc.inputRate, rate);
      // Cached at the floor: 20 500 tokens at the write rate + 1024 × $25 does not fit in $0.14; uncached: 102 500 + 1500 × 25 = 140 000 µ$.
      assert.ok((PROMPT * rate) / 1_000_000n + 25_600n > 140_000n);
      const { attempt, taken } = budgetOf(140_000n);
      const r = await admitNearCap(opts(), ctxOf(body, 20_000), wc, attempt);
      assert.ok(!('short' in r), 'admitted');
      assert.equal(taken.length, 1);
      assert.equal(taken[0]!.need, 140_000n);
      const f = taken[0]!.forward!;
      assert.ok(!f.rawBody.includes('cache_control'), 'no marker in the bytes sent to Anthropic');
      assert.deepEqual(JSON.parse(f.rawBody.toString()), f.body, 'Bedrock and Vertex (which serialise body) send the same');
      assert.ok(!hasMarker(bedrockBody(f.body, {})) && !hasMarker(vertexBody(f.body, 'messages', MODEL)));
      assert.equal(f.body.max_tokens, 1500);
      assert.deepEqual({ ...f.body, max_tokens: 64000 }, withoutCacheControl(body));

      const off = budgetOf(140_000n);
      const refused = (await admitNearCap(opts(false), ctxOf(body, 20_000), wc, off.attempt)) as NearCapRefused;
      assert.ok('short' in refused && off.taken.length === 0, 'drop_cache_control_near_cap: false refuses it');
      assert.equal(refused.plain, undefined);
    });
  }

  it('an uncached request that fits as sent keeps its max_tokens', async () => {
    const body = claudeCodeLike({ max_tokens: 2000 });
    const { attempt, taken } = budgetOf(160_000n);
    // Cached: 128 125 + 50 000 > 160 000 and at the floor 153 725 fits → lowered with caching (1275 tokens).
    await admitNearCap(opts(), ctxOf(body, 20_000), wcOf(body), attempt);
    assert.equal(taken[0]!.forward!.body.max_tokens, 1275);
    assert.ok(hasMarker(taken[0]!.forward!.body));
    const tight = budgetOf(152_500n);
    // Cached at the floor: 153 725 > 152 500; uncached as sent: 102 500 + 50 000 = 152 500 fits.
    await admitNearCap(opts(), ctxOf(body, 20_000), wcOf(body), tight.attempt);
    assert.equal(tight.taken[0]!.need, 152_500n);
    assert.equal(tight.taken[0]!.forward!.body.max_tokens, 2000);
    assert.ok(!tight.taken[0]!.forward!.rawBody.includes('cache_control'));
  });

  it('the 429 says what the request needs at least without prompt caching', async () => {
    const body = claudeCodeLike();
    const { attempt } = budgetOf(120_000n);
    const r = (await admitNearCap(opts(), ctxOf(body, 20_000), wcOf(body), attempt)) as NearCapRefused;
    assert.ok('short' in r);
    const text = nearCapDetail(book, r.wc, r.short.left, 1024, r.reason, r.plain);
    // As sent: 128 125 + 1 600 000 µ$; least: 102 500 + 25 600 = 128 100 µ$.
    assert.equal(text, '$0.12 left; this request needs up to $1.73 at max_tokens 64000 and at least $0.13 with max_tokens lowered to 1024 and prompt caching off');
    const off = (await admitNearCap(opts(false), ctxOf(body, 20_000), wcOf(body), attempt)) as NearCapRefused;
    assert.equal(nearCapDetail(book, off.wc, off.short.left, 1024, off.reason, off.plain), '$0.12 left; this request needs up to $1.73 at max_tokens 64000 and at least $0.15 with max_tokens lowered to 1024');
    const small = claudeCodeLike({ max_tokens: 1000 });
    const s = (await admitNearCap(opts(), ctxOf(small, 20_000), wcOf(small), attempt)) as NearCapRefused;
    // As sent: 128 125 + 25 000 = 153 125; uncached 102 500 + 25 000 = 127 500 µ$.
    assert.equal(nearCapDetail(book, s.wc, s.short.left, 1024, s.reason, s.plain), '$0.12 left; this request needs up to $0.15 at max_tokens 1000 ($0.13 without prompt caching)');
  });
});

import assert from 'node:assert/strict';
import { PriceBook, listPrice, abortedUsage } from '../../gateway-server/src/spend/pricing';
import { periodWindow, formatReset } from '../../gateway-server/src/spend/periods';
import { resolveCap, type LimitRow } from '../../gateway-server/src/spend/layering';
import { allowedHeaders, rejection, usageBody, type CapStanding } from '../../gateway-server/src/spend/standing';
import { emptyUsage } from '../../gateway-server/src/inference/usage-tap';
import { usageResponseSchema } from '../../gateway-server/src/protocol/usage';
import { BUILTIN_MODELS } from '../../gateway-server/src/policy/builtin-models';

const u = (o: Partial<ReturnType<typeof emptyUsage>>) => ({ ...emptyUsage(), ...o });

describe('spend pricing', () => {
  const book = new PriceBook([], 1);
  it('prices input and output at list rates, exactly, in micro-dollars', () => {
    // Sonnet $3/$15: 1000 in + 500 out = 3000 + 7500 µ$.
    assert.equal(book.cost(u({ input_tokens: 1000, output_tokens: 500 }), book.rates('claude-sonnet-4-6')), 10_500n);
    // Opus 4.1 $15/$75, Haiku $1/$5, Opus 4.5+ $5/$25.
    assert.equal(book.cost(u({ input_tokens: 1_000_000 }), book.rates('claude-opus-4-1')), 15_000_000n);
    assert.equal(book.cost(u({ output_tokens: 1_000_000 }), book.rates('claude-haiku-4-5-20251001')), 5_000_000n);
    assert.equal(book.cost(u({ output_tokens: 1_000_000 }), book.rates('claude-opus-4-8')), 25_000_000n);
  });
  it('prices 5-minute and 1-hour cache writes and cache reads exactly', () => {
    // Sonnet: 5m write 3.75 µ$/tok, 1h write 6 µ$/tok, read 0.3 µ$/tok.
    const usage = u({ input_tokens: 10, cache_creation_input_tokens: 1000, cache_creation_1h_input_tokens: 400, cache_read_input_tokens: 2000 });
    // 10*3 + 600*3.75 + 400*6 + 2000*0.3 = 30 + 2250 + 2400 + 600
    assert.equal(book.cost(usage, book.rates('claude-sonnet-4-6')), 5280n);
    // Fractions round up once per request: 1 cache-read token on Haiku is 0.1 µ$ → 1 µ$.
    assert.equal(book.cost(u({ cache_read_input_tokens: 1 }), book.rates('claude-haiku-4-5')), 1n);
    assert.equal(book.cost(u({ cache_read_input_tokens: 11 }), book.rates('claude-haiku-4-5')), 2n);
  });
  it('prices OpenAI models with their cached-input rate, Codex 0.171\'s default gpt-5.5 included', () => {
    // gpt-5.5 $5 / $0.50 cached / $30: 6000 uncached in + 4000 cached + 2000 out (reasoning included).
    const usage = u({ input_tokens: 6000, cache_read_input_tokens: 4000, output_tokens: 2000 });
    assert.equal(book.cost(usage, book.rates('gpt-5.5')), 30_000n + 2_000n + 60_000n);
    // gpt-5.4 is half of gpt-5.5; gpt-5.3-codex is priced as gpt-5.2 ($1.75 / $0.175 / $14).
    assert.equal(book.cost(usage, book.rates('gpt-5.4')), 46_000n);
    assert.equal(book.cost(usage, book.rates('gpt-5.3-codex')), 10_500n + 700n + 28_000n);
    for (const id of ['gpt-5.5', 'gpt-5.4', 'gpt-5.4-mini', 'gpt-5.4-nano', 'gpt-5.3-codex']) assert.ok(listPrice(id), `no price for ${id}`);
  });
  it('prices web search at $0.01 per use', () => {
    assert.equal(book.cost(u({ web_search_requests: 3 }), book.rates('claude-sonnet-4-6')), 30_000n);
  });
  it('maps Bedrock and Vertex IDs to the same rows', () => {
    assert.deepEqual(listPrice('us.anthropic.claude-sonnet-4-5-20250929-v1:0'), listPrice('claude-sonnet-4-6'));
    assert.deepEqual(listPrice('eu.anthropic.claude-haiku-4-5-20251001-v1:0'), listPrice('claude-haiku-4-5'));
    assert.deepEqual(listPrice('claude-opus-4-1@20250805'), listPrice('claude-opus-4-1'));
  });
  it('has a list price for every ID of every built-in model', () => {
    for (const m of BUILTIN_MODELS) {
      for (const id of [m.id, m.anthropicId, m.bedrockId, m.vertexId, ...m.aliases]) assert.ok(listPrice(id), `no price for ${id}`);
    }
  });
  it('warns once per unknown model and uses the $5/$25 tier', () => {
    const warned: string[] = [];
    const b = new PriceBook([], 1, (m) => warned.push(m));
    assert.equal(b.cost(u({ input_tokens: 1000, output_tokens: 1000 }), b.rates('mystery-model')), 30_000n);
    assert.deepEqual(warned, ['mystery-model']);
  });
  it('applies overrides (upstream-specific wins) and the multiplier', () => {
    const b = new PriceBook([{ model: 'claude-sonnet-4-6', input: 2 }, { upstream: 'bedrock', model: 'claude-sonnet-4-6', input: 4, output: 20 }], 1.5);
    assert.equal(b.cost(u({ input_tokens: 1000 }), b.rates('claude-sonnet-4-6', 'anthropic')), 3000n); // 2000 × 1.5
    assert.equal(b.cost(u({ input_tokens: 1000, output_tokens: 100 }), b.rates('claude-sonnet-4-6', 'bedrock')), 9000n); // (4000+2000) × 1.5
    assert.equal(b.worstRates('claude-sonnet-4-6').output, 20_000_000n);
  });
  it('reserves the worst case: body bytes + margin as prompt, max_tokens as output, web searches', () => {
    const body = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [], tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }] };
    const { reserve } = book.worstCase('claude-sonnet-4-6', body, 200);
    assert.equal(reserve, (200n + 1000n) * 3n + 100n * 15n + 20_000n);
  });
  it('charges an aborted stream at least 4 characters per output token', () => {
    assert.equal(abortedUsage(u({ output_tokens: 3 }), 400).output_tokens, 100);
    assert.equal(abortedUsage(u({ output_tokens: 300 }), 400).output_tokens, 300);
  });
});

describe('spend periods', () => {
  const at = (iso: string) => Date.parse(iso);
  it('rolls days over at 00:00 UTC', () => {
    assert.equal(periodWindow('daily', at('2026-08-07T23:59:59.999Z')).bucket, 'd:2026-08-07');
    assert.equal(periodWindow('daily', at('2026-08-08T00:00:00Z')).bucket, 'd:2026-08-08');
    assert.equal(formatReset(periodWindow('daily', at('2026-08-07T10:00:00Z')).resetsAt), '2026-08-08 00:00 UTC');
  });
  it('starts weeks on Monday 00:00 UTC', () => {
    // 2026-08-09 is a Sunday, 2026-08-10 a Monday.
    assert.equal(periodWindow('weekly', at('2026-08-09T23:59:59Z')).bucket, 'w:2026-08-03');
    assert.equal(periodWindow('weekly', at('2026-08-10T00:00:00Z')).bucket, 'w:2026-08-10');
    assert.equal(periodWindow('weekly', at('2026-08-09T12:00:00Z')).resetsAt.toISOString(), '2026-08-10T00:00:00.000Z');
  });
  it('rolls months over on the 1st, across years', () => {
    assert.equal(periodWindow('monthly', at('2026-12-31T23:59:59Z')).bucket, 'm:2026-12');
    assert.equal(periodWindow('monthly', at('2026-12-31T23:59:59Z')).resetsAt.toISOString(), '2027-01-01T00:00:00.000Z');
    assert.equal(periodWindow('monthly', at('2027-01-01T00:00:00Z')).bucket, 'm:2027-01');
  });
});

describe('spend layering', () => {
  const row = (scopeType: LimitRow['scopeType'], scopeId: string, amount: number | null, period: LimitRow['period'] = 'daily', isEnabled = true): LimitRow => ({
    id: `spl_${scopeType}_${scopeId}_${period}`,
    scopeType,
    scopeId,
    period,
    amountCents: amount === null ? null : BigInt(amount),
    isEnabled,
  });
  const rows = [row('organization', '', 1000), row('rbac_group', 'eng', 500), row('rbac_group', 'ops', 800), row('user', 'alice', 50), row('user', 'bob', null)];
  it('user override shadows groups and organization, even when null (unlimited)', () => {
    assert.equal(resolveCap(rows, 'alice', ['eng'], 'daily', 'min').amountCents, 50n);
    assert.equal(resolveCap(rows, 'bob', ['eng'], 'daily', 'min').amountCents, null);
  });
  it('takes the min (default) or max of the group caps', () => {
    assert.equal(resolveCap(rows, 'carol', ['eng', 'ops'], 'daily', 'min').amountCents, 500n);
    assert.equal(resolveCap(rows, 'carol', ['eng', 'ops'], 'daily', 'max').amountCents, 800n);
    assert.equal(resolveCap([...rows, row('rbac_group', 'free', null)], 'carol', ['eng', 'free'], 'daily', 'max').amountCents, null);
    assert.equal(resolveCap([...rows, row('rbac_group', 'free', null)], 'carol', ['eng', 'free'], 'daily', 'min').amountCents, 500n);
  });
  it('falls back to the organization, then unlimited; periods are independent; disabled rows ignored', () => {
    assert.equal(resolveCap(rows, 'dave', ['sales'], 'daily', 'min').amountCents, 1000n);
    assert.equal(resolveCap(rows, 'dave', ['sales'], 'weekly', 'min').amountCents, null);
    assert.equal(resolveCap([row('organization', '', 7, 'daily', false)], 'dave', [], 'daily', 'min').amountCents, null);
  });
});

describe('spend standing', () => {
  const now = Date.parse('2026-08-07T10:00:00Z');
  const s = (period: 'daily' | 'weekly' | 'monthly', cap: number | null, spentMicros: number): CapStanding => ({
    window: periodWindow(period, now),
    capCents: cap === null ? null : BigInt(cap),
    spentMicros: BigInt(spentMicros),
  });
  it('sends no headers for an uncapped caller', () => {
    assert.deepEqual(allowedHeaders([s('daily', null, 5), s('weekly', null, 5), s('monthly', null, 5)]), {});
  });
  it('describes the fullest cap; thresholds are strict; utilisation stays ≤ 0.99', () => {
    const h = allowedHeaders([s('daily', 100, 750_000), s('weekly', 1000, 100_000), s('monthly', null, 0)]);
    assert.equal(h['anthropic-ratelimit-unified-status'], 'allowed', '0.75 is not past 0.75');
    assert.equal(h['anthropic-ratelimit-unified-overage-utilization'], '0.75');
    assert.equal(h['anthropic-ratelimit-unified-reset'], String(Date.parse('2026-08-08T00:00:00Z') / 1000));
    const w = allowedHeaders([s('daily', 100, 960_000)]);
    assert.equal(w['anthropic-ratelimit-unified-status'], 'allowed_warning');
    assert.equal(w['anthropic-ratelimit-unified-overage-surpassed-threshold'], '0.95');
    assert.equal(allowedHeaders([s('daily', 100, 999_999)])['anthropic-ratelimit-unified-overage-utilization'], '0.99');
    assert.equal(allowedHeaders([s('daily', 100, 800_000)])['anthropic-ratelimit-unified-overage-surpassed-threshold'], '0.75');
  });
  it('rejects naming the cap that resets last, with the protocol headers', () => {
    const r = rejection([s('daily', 1, 10_000), s('monthly', 1, 10_000)], now, 'ask #eng-budget');
    assert.equal(r.message, 'spend limit reached (monthly; resets 2026-09-01 00:00 UTC) ask #eng-budget');
    assert.equal(r.headers['anthropic-ratelimit-unified-overage-period'], 'monthly');
    assert.equal(r.headers['anthropic-ratelimit-unified-overage-disabled-reason'], 'org_spend_cap_reached');
    assert.equal(r.headers['anthropic-ratelimit-unified-overage-utilization'], '1');
    assert.equal(r.headers['retry-after'], String((Date.parse('2026-09-01T00:00:00Z') - now) / 1000));
    assert.equal(r.headers['anthropic-ratelimit-unified-representative-claim'], undefined);
  });
  it('renders /api/oauth/usage in the protocol shape, capped and uncapped', () => {
    const capped = usageBody([s('daily', null, 0), s('weekly', null, 0), s('monthly', 50000, 271_400_000)]);
    assert.deepEqual(capped, {
      extra_usage: { is_enabled: true, monthly_limit: 50000, used_credits: 27140, utilization: 54, currency: 'USD' },
      limits: [{ kind: 'spend', group: 'monthly', percent: 54, resets_at: '2026-09-01T00:00:00.000Z', severity: 'normal', is_active: true }],
    });
    usageResponseSchema.parse(capped);
    const uncapped = usageBody([s('daily', null, 12_400_000), s('weekly', null, 12_400_000), s('monthly', null, 12_400_000)]);
    assert.deepEqual(uncapped.extra_usage.daily, { limit: null, used_credits: 1240, utilization: null });
    assert.equal(uncapped.extra_usage.monthly_limit, null);
    assert.deepEqual(uncapped.limits, []);
    usageResponseSchema.parse(uncapped);
  });
});

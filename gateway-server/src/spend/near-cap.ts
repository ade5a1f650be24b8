/**
 * Near a hard cap (spend/gate.ts asks when a request's full worst case no longer fits), a request
 * is admitted on a tighter proven worst case instead of being refused, closer to the cap at each
 * step: its prompt counted by the upstream; then `max_tokens` lowered to what the budget left pays
 * for; then, when even that does not fit with the prompt at the cache-write rate, the request
 * without its prompt-caching markers (uncached.ts), as sent or with `max_tokens` lowered.
 * Lowering rewrites only the value of the top-level `max_tokens` key in the bytes it is given
 * (the edge refuses duplicate top-level keys, so there is exactly one). An extended-thinking
 * budget must stay below `max_tokens` (and at least 1024, the Messages API's minimum), so it is
 * lowered with it or the request is refused with a sentence.
 */
import { topLevelValueSpan } from '../edge/json-scan';
import type { Admission, AdmitContext } from '../inference/hooks';
import type { PriceBook, WorstCase } from './pricing';
import { formatUsd } from './standing';
import { uncachedVariant } from './uncached';

/** Below this many output tokens a lowered request is refused (enforcement.min_output_tokens). */
export const DEFAULT_MIN_OUTPUT_TOKENS = 1024;

export type Counter = { bucket: string; spent: bigint; reserved: bigint };

/** What the caller may still reserve: the least room any cap has (µ$), never negative. */
export function headroom(rows: readonly Counter[], capMicros: readonly (bigint | null)[], buckets: readonly string[]): bigint {
  let least: bigint | undefined;
  buckets.forEach((b, i) => {
    const cap = capMicros[i];
    if (cap === null || cap === undefined) return;
    const row = rows.find((r) => r.bucket === b);
    const room = cap - (row?.spent ?? 0n) - (row?.reserved ?? 0n);
    if (least === undefined || room < least) least = room;
  });
  return least === undefined || least < 0n ? 0n : least;
}

/**
 * The same request with `max_tokens` lowered to what `budget` (µ$ it may still reserve) pays for,
 * or why not. `need` is the lowered request's exact worst case, input side included (recomputed
 * for the rewritten body's length), so what it can cost never passes what is left.
 */
export function planLowering(prices: PriceBook, ctx: AdmitContext, wc: WorstCase, budget: bigint, floor: number): { need: bigint; forward: NonNullable<Admission['forward']> } | { reason?: string } {
  if (!wc.explicitMaxTokens || !ctx.rawBody) return {};
  const m = prices.affordableMaxTokens(wc, budget);
  if (m >= wc.maxTokens || m < floor) return {};
  const lowered = lowerMaxTokens(ctx.rawBody, ctx.body, m);
  if (!lowered.ok) return { reason: lowered.reason };
  const need = prices.reserveFor(prices.withBodyBytes(wc, ctx.rawBodyBytes, lowered.rawBody.length), m);
  if (need > budget) return {};
  return { need, forward: { rawBody: lowered.rawBody, body: lowered.body } };
}

/** The same request as sent, when its worst case `wc` fits in `budget`. */
function planAsSent(ctx: AdmitContext, wc: WorstCase, budget: bigint): { need: bigint; forward: Forward } | undefined {
  if (wc.reserve > budget || !ctx.rawBody) return undefined;
  return { need: wc.reserve, forward: { rawBody: ctx.rawBody, body: ctx.body } };
}

/**
 * The 429's explanation: what is left, what the request needs as sent and at the least (at the
 * floor, and without prompt caching when `plain`, its worst case stripped of cache_control, is given).
 */
export function nearCapDetail(prices: PriceBook, wc: WorstCase, left: bigint, floor: number, reason?: string, plain?: WorstCase): string {
  const key = wc.outputKey ?? 'max_tokens';
  const lowerable = wc.maxTokens > floor && key === 'max_tokens';
  const least = prices.reserveFor(plain ?? wc, Math.min(floor, wc.maxTokens));
  const uncached = plain ? ' and prompt caching off' : '';
  return (
    `${formatUsd(left < 0n ? 0n : left)} left; this request needs up to ${formatUsd(wc.reserve)} at ${key} ${wc.maxTokens}` +
    (lowerable ? ` and at least ${formatUsd(least)} with max_tokens lowered to ${floor}${uncached}` : plain ? ` (${formatUsd(least)} without prompt caching)` : '') +
    (reason ? ` (not lowered: ${reason})` : '')
  );
}

type Forward = NonNullable<Admission['forward']>;

/** A reservation that did not fit: what the caller may still take, and the counters behind it. */
export interface Short {
  left: bigint;
  rows: Counter[];
}
/** One admission try (a lease or a per-request reservation) of `need` µ$, forwarding `forward` if given. */
export type Attempt = (need: bigint, forward?: Forward) => Promise<Admission | Short>;
export const isShort = (r: Admission | Short): r is Short => 'left' in r && 'rows' in r;

export interface NearCapOptions {
  prices: PriceBook;
  /** enforcement.min_output_tokens. */
  floor: number;
  /** enforcement.count_tokens_near_cap. */
  countTokens: boolean;
  /** enforcement.drop_cache_control_near_cap. */
  dropCacheControl: boolean;
}

/** Why nothing fitted: the last shortfall, the request's worst case as sent and without caching. */
export interface NearCapRefused {
  short: Short;
  wc: WorstCase;
  plain?: WorstCase;
  reason?: string;
}

/**
 * Admission through `attempt`, closer to the cap at each step: the byte-bound worst case; the
 * prompt counted by the upstream (asked only if some count could make a difference); `max_tokens`
 * lowered; then, only when none of that fits, the request without cache_control as sent and with
 * `max_tokens` lowered. Every step reserves the exact worst case of what it forwards.
 */
export async function admitNearCap(o: NearCapOptions, ctx: AdmitContext, wc: WorstCase, attempt: Attempt): Promise<Admission | NearCapRefused> {
  const { prices, floor } = o;
  const first = await attempt(wc.reserve);
  if (!isShort(first)) return first;
  let short: Short = first;
  const uncached = o.dropCacheControl ? uncachedVariant(prices, ctx, wc) : undefined;
  let cur = wc;
  let plain = uncached?.wc;
  const cheapest = plain ?? wc;
  if (o.countTokens && ctx.countPromptTokens && short.left >= prices.leastWithCount(cheapest, Math.min(floor, cheapest.maxTokens))) {
    // Counted once, on the body as received: cache_control markers are not prompt tokens.
    const count = await ctx.countPromptTokens();
    if (count !== undefined) {
      cur = prices.withPromptCount(wc, count);
      if (plain) plain = prices.withPromptCount(plain, count);
    }
    if (cur.counted && cur.reserve <= short.left) {
      const full = await attempt(cur.reserve);
      if (!isShort(full)) return full;
      short = full;
    }
  }
  const plans = [() => planLowering(prices, ctx, cur, short.left, floor)];
  if (uncached && plain) {
    const p = plain;
    plans.push(() => planAsSent(uncached.ctx, p, short.left) ?? planLowering(prices, uncached.ctx, p, short.left, floor));
  }
  let reason: string | undefined;
  for (const plan of plans) {
    const p = plan();
    if ('need' in p) {
      const r = await attempt(p.need, p.forward);
      if (!isShort(r)) return r;
      short = r;
    } else if (p.reason) reason = p.reason;
  }
  return { short, wc: cur, plain, reason };
}

/** The Messages API's smallest `thinking.budget_tokens`. */
export const MIN_THINKING_BUDGET = 1024;

export type Lowered =
  | { ok: true; rawBody: Buffer; body: Record<string, unknown> }
  | { ok: false; reason: string };

export function lowerMaxTokens(raw: Buffer, body: Record<string, unknown>, maxTokens: number): Lowered {
  const span = topLevelValueSpan(raw, 'max_tokens');
  if (!span) return { ok: false, reason: 'the request has no max_tokens the gateway could lower' };
  const edits: { start: number; end: number; text: string }[] = [{ ...span, text: String(maxTokens) }];
  const next: Record<string, unknown> = { ...body, max_tokens: maxTokens };
  const thinking = body.thinking as Record<string, unknown> | undefined;
  if (thinking && typeof thinking === 'object' && typeof thinking.budget_tokens === 'number' && thinking.budget_tokens >= maxTokens) {
    const budget = maxTokens - 1;
    if (budget < MIN_THINKING_BUDGET) {
      return { ok: false, reason: `its thinking.budget_tokens (${thinking.budget_tokens}) cannot be lowered below ${MIN_THINKING_BUDGET} and under max_tokens ${maxTokens}` };
    }
    const tspan = topLevelValueSpan(raw, 'thinking');
    if (!tspan) return { ok: false, reason: 'the request has a thinking budget the gateway could not lower' };
    // The thinking object is small ({type, budget_tokens}); it alone is re-serialised.
    next.thinking = { ...thinking, budget_tokens: budget };
    edits.push({ ...tspan, text: JSON.stringify(next.thinking) });
  }
  edits.sort((a, b) => b.start - a.start);
  let out = raw;
  for (const e of edits) out = Buffer.concat([out.subarray(0, e.start), Buffer.from(e.text, 'utf8'), out.subarray(e.end)]);
  return { ok: true, rawBody: out, body: next };
}

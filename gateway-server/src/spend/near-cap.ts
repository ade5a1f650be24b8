/**
 * Near a hard cap (spend/gate.ts asks when a request's full worst case no longer fits), a request is forwarded with a lower `max_tokens` (what the budget left pays
 * for) instead of being refused. Only the value of the top-level `max_tokens` key is rewritten
 * in the client's bytes (the edge refuses duplicate top-level keys, so there is exactly one);
 * every other byte goes upstream unchanged. An extended-thinking budget must stay below
 * `max_tokens` (and at least 1024, the Messages API's minimum), so it is lowered with it or the
 * request is refused with a sentence.
 */
import { topLevelValueSpan } from '../edge/json-scan';
import type { Admission, AdmitContext } from '../inference/hooks';
import type { PriceBook, WorstCase } from './pricing';
import { formatUsd } from './standing';

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

/** The 429's explanation: what is left, what the request needs as sent and at the floor. */
export function nearCapDetail(prices: PriceBook, wc: WorstCase, left: bigint, floor: number, reason?: string): string {
  const least = prices.reserveFor(wc, Math.min(floor, wc.maxTokens));
  const key = wc.outputKey ?? 'max_tokens';
  return (
    `${formatUsd(left < 0n ? 0n : left)} left; this request needs up to ${formatUsd(wc.reserve)} at ${key} ${wc.maxTokens}` +
    (wc.maxTokens > floor && key === 'max_tokens' ? ` and at least ${formatUsd(least)} with max_tokens lowered to ${floor}` : '') +
    (reason ? ` (not lowered: ${reason})` : '')
  );
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

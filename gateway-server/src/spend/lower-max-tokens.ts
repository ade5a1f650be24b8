/**
 * Near a hard cap, a request is forwarded with a lower `max_tokens` (what the budget left pays
 * for) instead of being refused. Only the value of the top-level `max_tokens` key is rewritten
 * in the client's bytes (the edge refuses duplicate top-level keys, so there is exactly one);
 * every other byte goes upstream unchanged. An extended-thinking budget must stay below
 * `max_tokens` (and at least 1024, the Messages API's minimum), so it is lowered with it or the
 * request is refused with a sentence.
 */
import { topLevelValueSpan } from '../edge/json-scan';

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

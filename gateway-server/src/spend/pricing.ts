/**
 * Cost of a request in integer micro-dollars. Rate selection, as the official gateway:
 * a `pricing.overrides` row for {upstream, model} (upstream-specific beats generic), the list
 * price of the upstream model ID, the list price of the client's model ID, else the unknown-model
 * tier with a warning. The sum is taken in micro-dollar-tokens (exact) and rounded up once.
 */
import { DEFAULT_MAX_OUTPUT_TOKENS, PRICE_ROWS, UNKNOWN_MODEL_RATES, type Rates } from './prices';
import type { Usage } from '../inference/usage-tap';
import type { ApiFamilyName } from '../routing/upstream';

export interface PriceOverride {
  upstream?: string;
  model: string;
  input?: number;
  output?: number;
  cache_read?: number;
  cache_write?: number;
  cache_write_1h?: number;
  web_search?: number;
}

const BY_ID = new Map<string, Rates>();
const CEILING = new Map<string, number>();
for (const row of PRICE_ROWS) {
  for (const id of row.ids) {
    BY_ID.set(id.toLowerCase(), row.rates);
    if (row.maxOutputTokens) CEILING.set(id.toLowerCase(), row.maxOutputTokens);
  }
}

/** Dated OpenAI snapshots (`gpt-5-2025-08-07`) price as their model. */
const bareOpenAI = (k: string) => k.replace(/-\d{4}-\d{2}-\d{2}$/, '');

/** The model's output ceiling from the price file (what an uncapped reply can reach), or `fallback`. */
export function outputCeiling(id: string, fallback = DEFAULT_MAX_OUTPUT_TOKENS): number {
  const k = id.toLowerCase();
  return CEILING.get(k) ?? CEILING.get(bareOpenAI(k)) ?? fallback;
}

/** List price by ID, tolerating region prefixes (`eu.anthropic.…`) and Vertex `@date` suffixes. */
export function listPrice(id: string): Rates | undefined {
  const k = id.toLowerCase();
  const direct = BY_ID.get(k) ?? BY_ID.get(bareOpenAI(k));
  if (direct) return direct;
  const bare = k.replace(/^(?:[a-z]{2,6}\.)?anthropic\./, '').replace(/-v\d+(?::\d+)?$/, '').replace(/@\d{8}$/, '');
  return BY_ID.get(bare) ?? BY_ID.get(bare.replace(/-\d{8}$/, ''));
}

const PER_MTOK = 1_000_000n;
const usd = (v: number) => BigInt(Math.round(v * 1_000_000));

export class PriceBook {
  private readonly multiplierPpm: bigint;

  constructor(
    private readonly overrides: readonly PriceOverride[],
    multiplier: number,
    private readonly warn: (model: string) => void = () => {},
    /** enforcement.default_max_output_tokens: the reservation of an OpenAI request for a model without a known ceiling. */
    private readonly defaultMaxOutputTokens = DEFAULT_MAX_OUTPUT_TOKENS,
  ) {
    this.multiplierPpm = BigInt(Math.round(multiplier * 1_000_000));
  }

  /** Rates for a request served by `upstream` as `upstreamModel`, asked for as `model`. */
  rates(model: string, upstream?: string, upstreamModel?: string): Rates {
    const ids = [upstreamModel, model].filter((x): x is string => !!x);
    const override =
      this.overrides.find((o) => o.upstream !== undefined && o.upstream === upstream && ids.includes(o.model)) ??
      this.overrides.find((o) => o.upstream === undefined && ids.includes(o.model));
    const base = (upstreamModel && listPrice(upstreamModel)) || listPrice(model);
    if (!base && !override) this.warn(model);
    const b = base ?? UNKNOWN_MODEL_RATES;
    if (!override) return b;
    const input = override.input !== undefined ? usd(override.input) : b.input;
    return {
      input,
      output: override.output !== undefined ? usd(override.output) : b.output,
      cacheWrite5m: override.cache_write !== undefined ? usd(override.cache_write) : override.input !== undefined ? (input * 125n) / 100n : b.cacheWrite5m,
      cacheWrite1h: override.cache_write_1h !== undefined ? usd(override.cache_write_1h) : override.input !== undefined ? input * 2n : b.cacheWrite1h,
      cacheRead: override.cache_read !== undefined ? usd(override.cache_read) : override.input !== undefined ? input / 10n : b.cacheRead,
      // web_search is dollars per search, not per million tokens.
      webSearch: override.web_search !== undefined ? usd(override.web_search) : b.webSearch,
    };
  }

  /** Highest rates any override or list row could apply to `model` (reservations are worst case). */
  worstRates(model: string): Rates {
    const candidates = [this.rates(model), ...this.overrides.filter((o) => o.model === model && o.upstream).map((o) => this.rates(model, o.upstream))];
    const max = (k: keyof Rates) => candidates.reduce((m, r) => (r[k] > m ? r[k] : m), 0n);
    return { input: max('input'), output: max('output'), cacheWrite5m: max('cacheWrite5m'), cacheWrite1h: max('cacheWrite1h'), cacheRead: max('cacheRead'), webSearch: max('webSearch') };
  }

  /** Apply pricing.multiplier and round up to whole micro-dollars. */
  private finish(microTokens: bigint): bigint {
    const scaled = microTokens * this.multiplierPpm;
    const denom = PER_MTOK * 1_000_000n;
    return (scaled + denom - 1n) / denom;
  }

  cost(usage: Usage, rates: Rates): bigint {
    const cw1h = BigInt(Math.min(usage.cache_creation_1h_input_tokens, usage.cache_creation_input_tokens));
    const cw5m = BigInt(usage.cache_creation_input_tokens) - cw1h;
    const tokens =
      BigInt(usage.input_tokens) * rates.input +
      BigInt(usage.output_tokens) * rates.output +
      cw5m * rates.cacheWrite5m +
      cw1h * rates.cacheWrite1h +
      BigInt(usage.cache_read_input_tokens) * rates.cacheRead +
      BigInt(usage.web_search_requests) * rates.webSearch * PER_MTOK;
    return this.finish(tokens);
  }

  /**
   * The most a request can cost, from what is known before proxying: every body byte as a prompt
   * token (a token is never shorter than a byte of JSON) plus a margin for the upstream's own
   * tool prompt, at the dearest input-side rate the body asks for; `max_tokens` of output; and
   * each web-search tool's `max_uses` (25 when unset).
   */
  worstCase(model: string, body: Record<string, unknown>, rawBodyBytes: number, rawBody?: Buffer, family: ApiFamilyName = 'anthropic'): WorstCase {
    const r = this.worstRates(model);
    if (family === 'openai') return this.openaiWorstCase(model, body, rawBodyBytes, r);
    // Scan the bytes as received: re-serialising a large prompt would cost more than the rest. A
    // body with \u escapes is normalised first, so an escaped key cannot hide from the scan.
    const raw = rawBody && !rawBody.includes('\\u') ? rawBody : JSON.stringify(body);
    let inputRate = r.input;
    if (raw.includes('"cache_control"')) {
      inputRate = r.cacheWrite5m > inputRate ? r.cacheWrite5m : inputRate;
      if (raw.includes('"1h"') && /"ttl"\s*:\s*"1h"/.test(raw.toString())) inputRate = r.cacheWrite1h > inputRate ? r.cacheWrite1h : inputRate;
    }
    const explicit = typeof body.max_tokens === 'number' && Number.isFinite(body.max_tokens) && body.max_tokens > 0;
    const maxTokens = explicit ? Math.ceil(body.max_tokens as number) : 128_000;
    let searches = 0n;
    if (Array.isArray(body.tools)) {
      for (const t of body.tools as Record<string, unknown>[]) {
        if (t && typeof t.type === 'string' && t.type.startsWith('web_search')) searches += BigInt(typeof t.max_uses === 'number' ? Math.ceil(t.max_uses) : 25);
      }
    }
    const promptTokens = BigInt(rawBodyBytes + PROMPT_MARGIN_TOKENS);
    const searchCost = searches * r.webSearch * PER_MTOK;
    const fixed = promptTokens * inputRate + searchCost;
    const wc: WorstCase = { reserve: 0n, promptEstimate: this.promptEstimate(model, rawBodyBytes), fixed, searchCost, promptTokens, counted: false, outputRate: r.output, maxTokens, explicitMaxTokens: explicit, inputRate };
    wc.reserve = this.reserveFor(wc, maxTokens);
    return wc;
  }

  /**
   * OpenAI Responses: every body byte a prompt token at the input rate (cached input is cheaper,
   * never dearer), plus `max_output_tokens` or, when absent (Codex never sends it), the model's
   * output ceiling from the price file (else enforcement.default_max_output_tokens, 128000). Reasoning tokens are part of the output
   * count. The gateway never rewrites a Responses body, so the request is not lowered near a cap.
   */
  private openaiWorstCase(model: string, body: Record<string, unknown>, rawBodyBytes: number, r: Rates): WorstCase {
    const limit = body.max_output_tokens;
    const explicit = typeof limit === 'number' && Number.isFinite(limit) && limit > 0;
    const maxTokens = explicit ? Math.ceil(limit) : outputCeiling(model, this.defaultMaxOutputTokens);
    const promptTokens = BigInt(rawBodyBytes + PROMPT_MARGIN_TOKENS);
    const fixed = promptTokens * r.input;
    const wc: WorstCase = { reserve: 0n, promptEstimate: this.promptEstimate(model, rawBodyBytes), fixed, searchCost: 0n, promptTokens, counted: false, outputRate: r.output, maxTokens, explicitMaxTokens: false, inputRate: r.input, outputKey: 'max_output_tokens' };
    wc.reserve = this.reserveFor(wc, maxTokens);
    return wc;
  }

  /** The worst case of the same request with `max_tokens` set to `maxTokens`. */
  reserveFor(wc: WorstCase, maxTokens: number): bigint {
    return this.finish(wc.fixed + BigInt(maxTokens) * wc.outputRate);
  }

  /** The worst case of the same request re-sent as `bytes` bytes (the byte bound is per byte; a counted prompt does not change). */
  withBodyBytes(wc: WorstCase, oldBytes: number, bytes: number): WorstCase {
    if (wc.counted) return wc;
    const promptTokens = wc.promptTokens + BigInt(bytes - oldBytes);
    return { ...wc, promptTokens, fixed: promptTokens * wc.inputRate + wc.searchCost };
  }

  /**
   * The same worst case with the prompt bounded by the upstream's own count (count_tokens) plus
   * COUNT_MARGIN, instead of the body's bytes: the tighter of the two. Output, searches and the
   * dearest input-side rate are unchanged, so only the prompt's token count is taken on trust.
   */
  withPromptCount(wc: WorstCase, count: number): WorstCase {
    const bound = countedPromptBound(count);
    if (bound >= wc.promptTokens) return wc;
    const counted: WorstCase = { ...wc, promptTokens: bound, counted: true, fixed: bound * wc.inputRate + wc.searchCost };
    counted.reserve = this.reserveFor(counted, wc.maxTokens);
    return counted;
  }

  /** The least any prompt count could make this request need at `maxTokens` of output (is counting worth a round trip?). */
  leastWithCount(wc: WorstCase, maxTokens: number): bigint {
    return this.reserveFor({ ...wc, fixed: countedPromptBound(0) * wc.inputRate + wc.searchCost }, maxTokens);
  }

  /** The largest `max_tokens` (≤ the request's) whose worst case fits in `budget` µ$; 0 when none does. */
  affordableMaxTokens(wc: WorstCase, budget: bigint): number {
    if (budget <= 0n || this.reserveFor(wc, 1) > budget) return 0;
    let lo = 1;
    let hi = wc.maxTokens;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.reserveFor(wc, mid) <= budget) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** What a request whose usage was never reported is charged: ~4 bytes per prompt token at the input rate. */
  promptEstimate(model: string, rawBodyBytes: number, upstream?: string, upstreamModel?: string): bigint {
    const r = this.rates(model, upstream, upstreamModel);
    return this.finish(BigInt(Math.ceil(rawBodyBytes / 4)) * r.input);
  }
}

/** The most a request can cost, and its parts (micro-dollar-tokens, before pricing.multiplier). */
export interface WorstCase {
  /** µ$ to reserve for the request as sent. */
  reserve: bigint;
  promptEstimate: bigint;
  /** Input side (promptTokens at the dearest input rate) and web searches, µ$-tokens. */
  fixed: bigint;
  /** Web searches' part of `fixed`. */
  searchCost: bigint;
  /** Prompt tokens assumed: every body byte plus PROMPT_MARGIN_TOKENS, or the upstream's count plus COUNT_MARGIN. */
  promptTokens: bigint;
  /** promptTokens comes from the upstream's count_tokens. */
  counted: boolean;
  inputRate: bigint;
  /** Dearest output rate, µ$ per million tokens. */
  outputRate: bigint;
  /** `max_tokens` the reservation assumed (128000 when the body has none). */
  maxTokens: number;
  /** The body carries a numeric `max_tokens` (only then can the gateway lower it). */
  explicitMaxTokens: boolean;
  /** The body key that limits output, for messages (default `max_tokens`). */
  outputKey?: 'max_tokens' | 'max_output_tokens';
}

/** Tokens the upstream adds around the client's prompt (tool-use system prompt and the like). */
export const PROMPT_MARGIN_TOKENS = 1_000;

/**
 * Margin over an upstream's count_tokens answer: Anthropic documents the count as an estimate
 * that may differ from the billed prompt "by a small amount", so 2% and 100 tokens more are
 * assumed (about $0.003 on a 20 000-token Opus prompt at the cache-write rate).
 */
export function countedPromptBound(count: number): bigint {
  const c = BigInt(Math.max(0, Math.ceil(count)));
  return c + (c + 49n) / 50n + 100n;
}

/**
 * Usage to charge for a stream cut before message_stop: what message_start/message_delta
 * reported, with output at least ~4 characters per token of the deltas seen.
 */
export function abortedUsage(usage: Usage, outputChars: number): Usage {
  return { ...usage, output_tokens: Math.max(usage.output_tokens, Math.ceil(outputChars / 4)) };
}

/** One row of Claude Code's managed `modelPricing.overrides`, USD per million tokens. */
export interface ClientPriceRow {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/**
 * The managed setting `modelPricing` (Claude Code 2.1.268+) that makes the client's own cost
 * display agree with what the gateway charges: `pricing.multiplier` as is, and one row per
 * overridden model at the rates the gateway applies when the first upstream serves it
 * (upstream-specific rows for other upstreams have no client-side equivalent). Claude Code has
 * one cache-write rate; the 5-minute one is sent. Undefined when pricing is all list price.
 */
export function modelPricingSetting(overrides: readonly PriceOverride[], multiplier: number, primaryUpstream?: string): { multiplier?: number; overrides?: Record<string, ClientPriceRow> } | undefined {
  const book = new PriceBook(overrides, 1);
  const perMtok = (v: bigint) => Number(v) / 1_000_000;
  const rows: Record<string, ClientPriceRow> = {};
  for (const o of overrides) {
    if (o.upstream !== undefined && o.upstream !== primaryUpstream) continue;
    if (rows[o.model]) continue;
    const r = book.rates(o.model, primaryUpstream);
    rows[o.model] = { input: perMtok(r.input), output: perMtok(r.output), cacheRead: perMtok(r.cacheRead), cacheWrite: perMtok(r.cacheWrite5m) };
  }
  const hasRows = Object.keys(rows).length > 0;
  if (multiplier === 1 && !hasRows) return undefined;
  return { ...(multiplier !== 1 ? { multiplier } : {}), ...(hasRows ? { overrides: rows } : {}) };
}

/**
 * List prices, one row per model family, in micro-dollars per million tokens (so $3/MTok is
 * 3_000_000) and micro-dollars per web search. Cache writes are 1.25× input (5-minute TTL) and
 * 2× input (1-hour TTL); cache reads 0.1× input. Each row lists every ID the model is sent under:
 * the Anthropic IDs of policy/builtin-models.ts, dated snapshots, Bedrock and Vertex IDs.
 */
export interface Rates {
  input: bigint;
  output: bigint;
  cacheWrite5m: bigint;
  cacheWrite1h: bigint;
  cacheRead: bigint;
  webSearch: bigint;
}

const WEB_SEARCH_MICROS = 10_000n; // $0.01 per search

/** Rates from input/output list prices in dollars per million tokens (whole cents). */
export function listRates(inputUsd: number, outputUsd: number): Rates {
  const input = BigInt(Math.round(inputUsd * 100)) * 10_000n;
  const output = BigInt(Math.round(outputUsd * 100)) * 10_000n;
  return { input, output, cacheWrite5m: (input * 125n) / 100n, cacheWrite1h: input * 2n, cacheRead: input / 10n, webSearch: WEB_SEARCH_MICROS };
}

export interface PriceRow {
  family: string;
  rates: Rates;
  ids: readonly string[];
  /** Most output tokens one reply can carry: what a hard cap reserves when the request sets no limit. */
  maxOutputTokens?: number;
}

/**
 * OpenAI rates: input, cached input (`input_tokens_details.cached_tokens`) and output, in
 * dollars per million tokens. OpenAI has no cache writes: a cache_creation count (never sent by
 * the Responses API) would be charged as plain input.
 */
export function openaiRates(inputUsd: number, cachedUsd: number, outputUsd: number): Rates {
  const m = (usd: number) => BigInt(Math.round(usd * 1000)) * 1_000n;
  const input = m(inputUsd);
  return { input, output: m(outputUsd), cacheWrite5m: input, cacheWrite1h: input, cacheRead: m(cachedUsd), webSearch: WEB_SEARCH_MICROS };
}

const opus45 = listRates(5, 25);
const sonnet = listRates(3, 15);

export const PRICE_ROWS: readonly PriceRow[] = [
  {
    family: 'opus-4.5+',
    rates: opus45,
    ids: [
      'claude-opus-4-8', 'us.anthropic.claude-opus-4-8', 'global.anthropic.claude-opus-4-8',
      'claude-opus-4-7', 'us.anthropic.claude-opus-4-7', 'global.anthropic.claude-opus-4-7',
      'claude-opus-4-6', 'us.anthropic.claude-opus-4-6-v1', 'global.anthropic.claude-opus-4-6-v1',
      'claude-opus-4-5', 'claude-opus-4-5-20251101', 'us.anthropic.claude-opus-4-5-20251101-v1:0', 'claude-opus-4-5@20251101',
    ],
  },
  {
    family: 'sonnet-4.x/5',
    rates: sonnet,
    ids: [
      'claude-sonnet-5', 'us.anthropic.claude-sonnet-5',
      'claude-sonnet-4-6', 'us.anthropic.claude-sonnet-4-6',
      'claude-sonnet-4-5', 'claude-sonnet-4-5-20250929', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5@20250929',
      'claude-sonnet-4-0', 'claude-sonnet-4-20250514', 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'claude-sonnet-4@20250514',
    ],
  },
  {
    family: 'haiku-4.5',
    rates: listRates(1, 5),
    ids: ['claude-haiku-4-5', 'claude-haiku-4-5-20251001', 'us.anthropic.claude-haiku-4-5-20251001-v1:0', 'claude-haiku-4-5@20251001'],
  },
  {
    family: 'opus-4.1',
    rates: listRates(15, 75),
    ids: ['claude-opus-4-1', 'claude-opus-4-1-20250805', 'us.anthropic.claude-opus-4-1-20250805-v1:0', 'claude-opus-4-1@20250805'],
  },
  // OpenAI (Responses API, Codex), list prices per million tokens: input / cached input / output,
  // standard tier, short context (OpenAI's pricing page as of 2026-11; gpt-5.5 is Codex 0.171's default).
  { family: 'gpt-5.5', rates: openaiRates(5, 0.5, 30), maxOutputTokens: 128_000, ids: ['gpt-5.5'] },
  { family: 'gpt-5.4', rates: openaiRates(2.5, 0.25, 15), maxOutputTokens: 128_000, ids: ['gpt-5.4'] },
  { family: 'gpt-5.4-mini', rates: openaiRates(0.75, 0.075, 4.5), maxOutputTokens: 128_000, ids: ['gpt-5.4-mini'] },
  { family: 'gpt-5.4-nano', rates: openaiRates(0.2, 0.02, 1.25), maxOutputTokens: 128_000, ids: ['gpt-5.4-nano'] },
  { family: 'gpt-5', rates: openaiRates(1.25, 0.125, 10), maxOutputTokens: 128_000, ids: ['gpt-5', 'gpt-5-codex', 'gpt-5.1', 'gpt-5.1-codex', 'gpt-5.1-codex-max'] },
  { family: 'gpt-5.2', rates: openaiRates(1.75, 0.175, 14), maxOutputTokens: 128_000, ids: ['gpt-5.2', 'gpt-5.2-codex', 'gpt-5.3-codex'] },
  { family: 'gpt-5-mini', rates: openaiRates(0.25, 0.025, 2), maxOutputTokens: 128_000, ids: ['gpt-5-mini', 'gpt-5.1-codex-mini', 'codex-mini-latest'] },
  { family: 'gpt-5-nano', rates: openaiRates(0.05, 0.005, 0.4), maxOutputTokens: 128_000, ids: ['gpt-5-nano'] },
  { family: 'gpt-4.1', rates: openaiRates(2, 0.5, 8), maxOutputTokens: 32_768, ids: ['gpt-4.1'] },
  { family: 'o4-mini', rates: openaiRates(1.1, 0.275, 4.4), maxOutputTokens: 100_000, ids: ['o4-mini'] },
];

/** Models nobody priced: the official gateway's fallback tier, with a warning. */
export const UNKNOWN_MODEL_RATES: Rates = listRates(5, 25);

/** What a request that sets no output limit reserves when its model's ceiling is unknown. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 128_000;

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
];

/** Models nobody priced: the official gateway's fallback tier, with a warning. */
export const UNKNOWN_MODEL_RATES: Rates = listRates(5, 25);

/**
 * Rollup tiers of inference rows, maintained on the audit writer's write path: each batch is
 * pre-aggregated here (per UTC quarter-hour × user × groups × model × upstream) and lands as one
 * call that upserts every tier (console_rollup_apply), in the same transaction as the rows it summarises, so the
 * tiers and the audit log never disagree (a spooled batch spools its statement too).
 *
 * Three tiers, each at several time grains (minutes; blocks aligned to UTC, weeks on Monday):
 *   mu     per model × upstream    15, 60, 360, 1440   totals, by model, by upstream
 *   group  per group (one row per group a user was in; '' for none)   15, 60, 360, 1440
 *   user   per user                60, 1440, 10080
 * (Six-hour blocks halve what a day in a zone far from UTC reads: a New York day is a UTC day
 * less a six-hour block plus an hour, plus the same a day later.)
 * The tiers without the user dimension stay small however many people use the gateway, which
 * is what keeps the console's pages fast (console/plan.ts picks the blocks a range needs).
 * Pure: no database, no Fastify.
 */
import type { AuditContent } from '../audit/record';
import { sqlLiteral } from '../store/sql-literal';

const QUARTER_MS = 900_000;

/** Outcomes counted as errors: the gateway or the upstream failed, not a refusal of the caller. */
export const ERROR_OUTCOMES = ['upstream_error', 'upstream_cut', 'error'] as const;
export const METRICS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_micros'] as const;

export type TierName = 'mu' | 'group' | 'user';
export interface Tier {
  table: string;
  /** Key columns after (grain, t). */
  keys: readonly string[];
  /** Time grains in minutes, finest first. */
  grains: readonly number[];
  /** The key columns' values from a source row `b` (the batch or audit_log) and, for groups, `x.name`. */
  source: readonly string[];
}

export const TIERS: Record<TierName, Tier> = {
  mu: { table: 'console_rollup_mu', keys: ['model', 'upstream'], grains: [15, 60, 360, 1440], source: ['b.model', 'b.upstream'] },
  group: { table: 'console_rollup_group', keys: ['grp'], grains: [15, 60, 360, 1440], source: ['x.name'] },
  user: { table: 'console_rollup_user', keys: ['sub'], grains: [60, 1440, 10080], source: ['b.sub'] },
};

/** Block start of `t` at `grain` minutes: UTC-aligned (origin a Monday, so weeks start on Monday). */
export const binSql = (grain: string, t: string) => `date_bin(${grain} * interval '1 minute', ${t}, timestamptz '2000-01-03 00:00:00+00')`;

/** A user's groups as rows: one per group, '' for a user in none. */
const GROUPS_LATERAL = `CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN coalesce(jsonb_array_length(b.groups), 0) = 0 THEN '[""]'::jsonb ELSE b.groups END) AS x(name)`;

export interface BatchRow {
  /** UTC quarter-hour start. */
  t: string;
  sub: string;
  groups: string[];
  model: string;
  upstream: string;
  requests: number;
  errors: number;
  input_tokens: bigint;
  output_tokens: bigint;
  cache_write_tokens: bigint;
  cache_read_tokens: bigint;
  cost_micros: bigint;
}

const big = (v: string | null) => (v === null ? 0n : BigInt(v));

/** One row per quarter-hour × key for the inference rows of a batch (other events are not rolled up). */
export function aggregate(contents: readonly AuditContent[]): BatchRow[] {
  const byKey = new Map<string, BatchRow>();
  for (const c of contents) {
    if (c.event !== 'inference') continue;
    const t = new Date(Math.floor(c.at.getTime() / QUARTER_MS) * QUARTER_MS).toISOString();
    const groups = c.groups ?? [];
    const key = JSON.stringify([t, c.sub ?? '', groups, c.model ?? '', c.upstream ?? '']);
    let r = byKey.get(key);
    if (!r) {
      r = { t, sub: c.sub ?? '', groups, model: c.model ?? '', upstream: c.upstream ?? '', requests: 0, errors: 0, input_tokens: 0n, output_tokens: 0n, cache_write_tokens: 0n, cache_read_tokens: 0n, cost_micros: 0n };
      byKey.set(key, r);
    }
    r.requests++;
    if ((ERROR_OUTCOMES as readonly string[]).includes(c.outcome)) r.errors++;
    r.input_tokens += big(c.input_tokens);
    r.output_tokens += big(c.output_tokens);
    r.cache_write_tokens += big(c.cache_creation_tokens);
    r.cache_read_tokens += big(c.cache_read_tokens);
    r.cost_micros += big(c.cost_micros);
  }
  return [...byKey.values()];
}

/**
 * INSERT … SELECT of one tier from a source `b` (columns t, sub, groups, model, upstream and the
 * metrics), grouped per block, in key order: concurrent writers (replicas) take row locks in the
 * same order, and a rebuild lays each block's rows out together, as the write path does.
 */
function tierInsert(tier: Tier, from: string, upsert: boolean): string {
  const keys = tier.keys.map((k, i) => `${tier.source[i]} AS ${k}`).join(', ');
  const n = tier.keys.length + 2;
  const cols = ['grain', 't', ...tier.keys, ...METRICS].join(', ');
  const sums = METRICS.map((m) => `sum(b.${m})`).join(', ');
  const onConflict = upsert
    ? `\nON CONFLICT (grain, t, ${tier.keys.join(', ')}) DO UPDATE SET ${METRICS.map((m) => `${m} = ${tier.table}.${m} + EXCLUDED.${m}`).join(', ')}`
    : '';
  return `INSERT INTO ${tier.table} (${cols})
SELECT g.grain, ${binSql('g.grain', 'b.t')}, ${keys}, ${sums}
FROM ${from} ${tier.table === TIERS.group.table ? GROUPS_LATERAL : ''} CROSS JOIN (VALUES ${tier.grains.map((x) => `(${x})`).join(', ')}) AS g(grain)
GROUP BY ${Array.from({ length: n }, (_, i) => i + 1).join(', ')}
ORDER BY ${Array.from({ length: n }, (_, i) => i + 1).join(', ')}${onConflict}`;
}

const RECORDSET_COLS = `t timestamptz, sub text, groups jsonb, model text, upstream text, ${METRICS.map((m) => `${m} bigint`).join(', ')}`;

/**
 * The batch's upsert of every tier: one call of console_rollup_apply (the PostgreSQL write path
 * sends every statement of a batch in one simple-protocol message, which takes no parameters,
 * hence a literal), or undefined when the batch holds no inference rows.
 */
export function rollupSql(contents: readonly AuditContent[]): string | undefined {
  const rows = aggregate(contents);
  if (!rows.length) return undefined;
  const json = JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return `SELECT console_rollup_apply(${sqlLiteral(json)}::jsonb)`;
}

/**
 * The function that upserts a batch into every tier (migration 61): a function, so PostgreSQL
 * plans its four upserts once per connection instead of once per batch.
 */
export function rollupFunctionSql(): string {
  const [mu, group, user] = [TIERS.mu, TIERS.group, TIERS.user].map((t) => tierInsert(t, 'b', true));
  return `CREATE OR REPLACE FUNCTION console_rollup_apply(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  WITH b AS (SELECT * FROM jsonb_to_recordset(batch) AS r(${RECORDSET_COLS})),
  w_mu AS (${mu}),
  w_group AS (${group}),
  w_user AS (${user})
  ${lastSeenInsert('b', true)};
END
$$;`;
}

/**
 * Each user's latest inference row (quarter-hour precision): who was active since a time, for
 * ranges that end after every row (the overview's), without summing the per-user tier.
 */
function lastSeenInsert(from: string, upsert: boolean): string {
  return `INSERT INTO console_user_last_seen (sub, last_t)
SELECT b.sub, max(${binSql('15', 'b.t')}) FROM ${from} GROUP BY 1 ORDER BY 1${upsert ? '\nON CONFLICT (sub) DO UPDATE SET last_t = greatest(console_user_last_seen.last_t, EXCLUDED.last_t)' : ''}`;
}

/** audit_log's inference rows in the batch's shape (one row each). */
const AUDIT_SOURCE = `(SELECT at AS t, coalesce(sub, '') AS sub, coalesce(groups, '[]'::jsonb) AS groups, coalesce(model, '') AS model, coalesce(upstream, '') AS upstream,
  1 AS requests, CASE WHEN outcome IN (${ERROR_OUTCOMES.map((o) => `'${o}'`).join(', ')}) THEN 1 ELSE 0 END AS errors,
  coalesce(input_tokens, 0) AS input_tokens, coalesce(output_tokens, 0) AS output_tokens, coalesce(cache_creation_tokens, 0) AS cache_write_tokens,
  coalesce(cache_read_tokens, 0) AS cache_read_tokens, coalesce(cost_micros, 0) AS cost_micros
  FROM audit_log WHERE event = 'inference') AS b`;

/** Rebuild every tier from the audit log (the migrations' backfill, and after running with the console off). */
export const REBUILD_SQL = [
  ...Object.values(TIERS).map((t) => `DELETE FROM ${t.table};\n${tierInsert(t, AUDIT_SOURCE, false)};`),
  `DELETE FROM console_user_last_seen;\n${lastSeenInsert(AUDIT_SOURCE, false)};`,
].join('\n');

/**
 * Hourly rollups of inference rows: per hour (UTC) × user × groups × model × upstream, the
 * request count, tokens by kind, cost in micro-dollars and errors. Maintained on the audit
 * writer's write path: each batch is pre-aggregated here and lands as one upsert in the same
 * transaction as the rows it summarises, so rollups and audit log never disagree (a spooled
 * batch spools its upsert too). Pure: no database, no Fastify.
 */
import type { AuditContent } from '../audit/record';
import { sqlLiteral } from '../store/sql-literal';

const HOUR_MS = 3_600_000;

/** Outcomes counted as errors: the gateway or the upstream failed, not a refusal of the caller. */
export const ERROR_OUTCOMES = ['upstream_error', 'upstream_cut', 'error'] as const;

export interface RollupRow {
  hour: string;
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

/** One row per key for the inference rows of a batch (other events are not rolled up). */
export function aggregate(contents: readonly AuditContent[]): RollupRow[] {
  const byKey = new Map<string, RollupRow>();
  for (const c of contents) {
    if (c.event !== 'inference') continue;
    const hour = new Date(Math.floor(c.at.getTime() / HOUR_MS) * HOUR_MS).toISOString();
    const groups = c.groups ?? [];
    const key = JSON.stringify([hour, c.sub ?? '', groups, c.model ?? '', c.upstream ?? '']);
    let r = byKey.get(key);
    if (!r) {
      r = { hour, sub: c.sub ?? '', groups, model: c.model ?? '', upstream: c.upstream ?? '', requests: 0, errors: 0, input_tokens: 0n, output_tokens: 0n, cache_write_tokens: 0n, cache_read_tokens: 0n, cost_micros: 0n };
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

const COLS = 'hour, sub, groups, model, upstream, requests, errors, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros';
const SUMMED = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_micros'];

/**
 * The batch's upsert as one literal statement (the PostgreSQL write path sends every statement of
 * a batch in one simple-protocol message, which takes no parameters), or undefined when the batch
 * holds no inference rows.
 */
export function rollupSql(contents: readonly AuditContent[]): string | undefined {
  const rows = aggregate(contents);
  if (!rows.length) return undefined;
  const json = JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return `INSERT INTO console_rollup_hourly (${COLS})
SELECT ${COLS} FROM jsonb_to_recordset(${sqlLiteral(json)}::jsonb) AS r(hour timestamptz, sub text, groups jsonb, model text, upstream text,
  requests bigint, errors bigint, input_tokens bigint, output_tokens bigint, cache_write_tokens bigint, cache_read_tokens bigint, cost_micros bigint)
ON CONFLICT (hour, sub, groups, model, upstream) DO UPDATE SET ${SUMMED.map((c) => `${c} = console_rollup_hourly.${c} + EXCLUDED.${c}`).join(', ')}`;
}

/** Rebuild every rollup from the audit log (the migration's backfill, and after running with the console off). */
export const REBUILD_SQL = `
DELETE FROM console_rollup_hourly;
INSERT INTO console_rollup_hourly (${COLS})
SELECT date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(sub, ''), coalesce(groups, '[]'::jsonb), coalesce(model, ''), coalesce(upstream, ''),
  count(*), count(*) FILTER (WHERE outcome IN (${ERROR_OUTCOMES.map((o) => `'${o}'`).join(', ')})),
  coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cache_creation_tokens), 0), coalesce(sum(cache_read_tokens), 0), coalesce(sum(cost_micros), 0)
FROM audit_log WHERE event = 'inference'
GROUP BY 1, 2, 3, 4, 5;
`;

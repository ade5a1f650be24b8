/**
 * Report queries over the rollup tiers (console/rollup.ts). A report reads the smallest tier that
 * has the dimension it groups by (model and upstream: per model × upstream; group: per group;
 * user: per user). Its range is cut at the display zone's bucket boundaries, and each piece is
 * summed from signed blocks of that tier's grains plus the audit rows of any sub-quarter-hour
 * edge (console/plan.ts), so totals are exact for any range and zone, half-hour and 45-minute
 * zones and ranges starting mid-hour included, and no page view scans the audit log.
 */
import type { Queryable } from '../store/db';
import type { ReportQuery, ReportRow } from '../protocol/reports';
import { ERROR_OUTCOMES, METRICS, TIERS, binSql, type TierName } from './rollup';
import { planRange, splitAtBuckets, type Costs, type Segment } from './plan';

const ERRORS_IN = ERROR_OUTCOMES.map((o) => `'${o}'`).join(', ');

/**
 * Rows read per block (relative): the small tiers hold about as many rows per block at every
 * grain, the per-user tier many more per day than per hour. Audit rows are dearer than any block.
 */
const COSTS: Record<TierName, Costs> = {
  mu: { grains: TIERS.mu.grains, weights: [1, 1, 1.2, 1.5], auditPerQuarter: 8 },
  group: { grains: TIERS.group.grains, weights: [1, 1, 1.2, 1.5], auditPerQuarter: 8 },
  user: { grains: TIERS.user.grains, weights: [1, 8, 10], auditPerQuarter: 1 },
};

const TIER_OF: Record<ReportQuery['group_by'], TierName> = { user: 'user', group: 'group', model: 'mu', upstream: 'mu' };

/** The key of a tier row `r`, and of an audit row `a` (with its join, for groups). */
function keyOf(groupBy: ReportQuery['group_by']): { tier: string; audit: string; join: string } {
  switch (groupBy) {
    case 'user':
      return { tier: 'r.sub', audit: `coalesce(a.sub, '')`, join: '' };
    case 'model':
      return { tier: 'r.model', audit: `coalesce(a.model, '')`, join: '' };
    case 'upstream':
      return { tier: 'r.upstream', audit: `coalesce(a.upstream, '')`, join: '' };
    case 'group':
      // A request counts once for each group its user was in; a user in no group under ''.
      return { tier: 'r.grp', audit: 'x.name', join: `CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN coalesce(jsonb_array_length(a.groups), 0) = 0 THEN '[""]'::jsonb ELSE a.groups END) AS x(name)` };
  }
}

/**
 * The signed rows of segments $1..$5 (grain, lo, hi, sign, bucket label), $6 the only keys wanted
 * (when `filtered`), as CTEs `seg` and `parts` (bucket, key, sign, metrics). Each segment is one
 * index range scan (a LATERAL subquery kept apart by OFFSET 0, so the planner does not hash the
 * whole tier); audit rows are read only when some segment needs them.
 */
function partsSql(groupBy: ReportQuery['group_by'], opts: { filtered?: boolean; audit?: boolean }, metrics: readonly string[] = METRICS): string {
  const tier = TIERS[TIER_OF[groupBy]];
  const key = keyOf(groupBy);
  const only = (expr: string) => (opts.filtered ? ` AND ${expr} = ANY($6::text[])` : '');
  const fromAudit: Record<string, string> = {
    requests: '1',
    errors: `CASE WHEN a.outcome IN (${ERRORS_IN}) THEN 1 ELSE 0 END`,
    input_tokens: 'coalesce(a.input_tokens, 0)',
    output_tokens: 'coalesce(a.output_tokens, 0)',
    cache_write_tokens: 'coalesce(a.cache_creation_tokens, 0)',
    cache_read_tokens: 'coalesce(a.cache_read_tokens, 0)',
    cost_micros: 'coalesce(a.cost_micros, 0)',
  };
  const audit = `
  UNION ALL
  SELECT s.bucket, p.* FROM seg s CROSS JOIN LATERAL (
    SELECT ${key.audit} AS key, s.sign, ${metrics.map((m) => `${fromAudit[m]} AS ${m}`).join(', ')}
    FROM audit_log a ${key.join}
    WHERE a.at >= s.lo AND a.at < s.hi AND a.event = 'inference'${only(key.audit)} OFFSET 0) p
  WHERE s.grain = 0`;
  return `
WITH seg AS (SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::timestamptz[], $4::integer[], $5::text[]) AS s(grain, lo, hi, sign, bucket)),
parts AS (
  SELECT s.bucket, p.* FROM seg s CROSS JOIN LATERAL (
    SELECT ${key.tier} AS key, s.sign, ${metrics.map((m) => `r.${m}`).join(', ')}
    FROM ${tier.table} r WHERE r.grain = s.grain AND r.t >= s.lo AND r.t < s.hi${only(key.tier)} OFFSET 0) p
  WHERE s.grain > 0${opts.audit ? audit : ''}
)`;
}

/** A report: every metric per bucket × key. The signed sums cancel what a block holds beyond its piece. */
export function reportSql(groupBy: ReportQuery['group_by'], opts: { filtered?: boolean; audit?: boolean } = {}): string {
  return `${partsSql(groupBy, opts)}
SELECT bucket, NULLIF(key, '') AS key, ${METRICS.map((m) => `sum(sign * ${m})::text AS ${m}`).join(', ')}
FROM parts
GROUP BY bucket, key
HAVING sum(sign * requests) <> 0
ORDER BY 1 NULLS FIRST, 2 NULLS FIRST`;
}

/** How many users were active, and the `n` who spent most (ties by name): one jsonb, not a row per user. */
function leadersSql(audit: boolean, n: number): string {
  return `${partsSql('user', { audit }, ['requests', 'cost_micros'])},
agg AS (SELECT key, sum(sign * cost_micros) AS c FROM parts GROUP BY key HAVING sum(sign * requests) <> 0 AND key <> '')
SELECT jsonb_build_object('active', (SELECT count(*) FROM agg), 'top', (SELECT coalesce(jsonb_agg(key ORDER BY c DESC, key), '[]') FROM (SELECT key, c FROM agg ORDER BY c DESC, key LIMIT ${Math.floor(n)}) t))`;
}

/**
 * Run a report statement (reportSql; leadersSql for one jsonb value) with JIT compilation off. A report reads a few thousand
 * rows through hundreds of index range scans; PostgreSQL's estimate of that passes jit_above_cost,
 * and compiling took longer than the query (50 ms to 2 s on the benchmark machine). A function's
 * SET clause scopes the setting to this statement, on the primary and on a read replica alike.
 */
export const REPORT_FUNCTION = `
CREATE OR REPLACE FUNCTION console_report(q text, g integer[], lo timestamptz[], hi timestamptz[], sg integer[], b text[], k text[])
RETURNS TABLE (bucket text, key text, ${METRICS.map((m) => `${m} text`).join(', ')})
LANGUAGE plpgsql STABLE SET jit = off AS $$
BEGIN
  RETURN QUERY EXECUTE q USING g, lo, hi, sg, b, k;
END
$$;
CREATE OR REPLACE FUNCTION console_report_value(q text, g integer[], lo timestamptz[], hi timestamptz[], sg integer[], b text[], k text[])
RETURNS jsonb LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE v jsonb;
BEGIN
  EXECUTE q INTO v USING g, lo, hi, sg, b, k;
  RETURN v;
END
$$;
`;

/**
 * The first instant of every bucket (local day, Monday week or month in `tz`) that [from, to)
 * touches: the earliest quarter-hour whose local bucket is that one, which is how the database
 * buckets a row (date_trunc of its local time), midnights that DST skips or repeats included.
 */
export async function bucketStarts(db: Queryable, bucket: 'day' | 'week' | 'month', tz: string, from: Date, to: Date): Promise<{ label: string; at: number }[]> {
  const { rows } = await db.query<{ label: string; at: number | string }>(
    `SELECT to_char(d, 'YYYY-MM-DD') AS label,
       (SELECT extract(epoch FROM min(s)) * 1000
        FROM generate_series(${binSql('15', `(d AT TIME ZONE $3::text) - interval '3 hours'`)}, (d AT TIME ZONE $3::text) + interval '3 hours', interval '15 minutes') AS s
        WHERE date_trunc('${bucket}', s AT TIME ZONE $3::text) >= d)::float8 AS at
     FROM generate_series(date_trunc('${bucket}', $1::timestamptz AT TIME ZONE $3::text), $2::timestamptz AT TIME ZONE $3::text, interval '1 ${bucket}') AS d
     ORDER BY d`,
    [from.toISOString(), to.toISOString(), tz],
  );
  return rows.map((r) => ({ label: r.label, at: Number(r.at) }));
}

/** Exact dollars from micro-dollars, as a decimal string without trailing zeros ("0.000123", "12.5", "3"). */
export function microsToUsd(micros: string): string {
  const n = BigInt(micros);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}

type Metrics = Omit<ReportRow, 'bucket' | 'key'>;

/** The segments a report reads, each with its bucket's label. */
export async function reportSegments(db: Queryable, q: Pick<ReportQuery, 'bucket' | 'group_by' | 'tz'>, from: Date, to: Date): Promise<(Segment & { label: string | null })[]> {
  const starts = q.bucket === 'none' ? [{ label: null, at: from.getTime() }] : await bucketStarts(db, q.bucket, q.tz, from, to);
  const costs = COSTS[TIER_OF[q.group_by]];
  return splitAtBuckets(from.getTime(), to.getTime(), starts).flatMap((p) => planRange(p.a, p.b, costs).map((s) => ({ ...s, label: p.label })));
}

function segmentParams(segs: (Segment & { label: string | null })[], keys?: string[]): unknown[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  return [segs.map((s) => s.grain), segs.map((s) => iso(s.lo)), segs.map((s) => iso(s.hi)), segs.map((s) => s.sign), segs.map((s) => s.label), keys ?? []];
}

/** `keys`: only these keys (e.g. the top users of a chart), not part of the public API. */
export async function runReport(db: Queryable, q: ReportQuery, from: Date, to: Date, keys?: string[]): Promise<{ data: ReportRow[]; totals: Metrics }> {
  const segs = await reportSegments(db, q, from, to);
  const sql = reportSql(q.group_by, { filtered: keys !== undefined, audit: segs.some((s) => s.grain === 0) });
  const { rows } = await db.query<Record<string, string | null>>('SELECT * FROM console_report($1, $2, $3, $4, $5, $6, $7)', [sql, ...segmentParams(segs, keys)]);
  const sums: Record<string, bigint> = Object.fromEntries(METRICS.map((m) => [m, 0n]));
  const data = rows.map((r) => {
    const out: Record<string, string | null> = { bucket: r.bucket ?? null, key: r.key ?? null };
    for (const m of METRICS) {
      out[m] = r[m] ?? '0';
      sums[m]! += BigInt(out[m]!);
    }
    out.cost_usd = microsToUsd(out.cost_micros!);
    return out as unknown as ReportRow;
  });
  const totals = Object.fromEntries(METRICS.map((m) => [m, sums[m]!.toString()])) as Record<string, string>;
  totals.cost_usd = microsToUsd(totals.cost_micros!);
  return { data, totals: totals as unknown as Metrics };
}

/** Users with an inference request in [from, to), and the `n` who spent most there. */
export async function userLeaders(db: Queryable, from: Date, to: Date, n: number): Promise<{ active: number; top: string[] }> {
  const segs = await reportSegments(db, { bucket: 'none', group_by: 'user', tz: 'UTC' }, from, to);
  const sql = leadersSql(segs.some((s) => s.grain === 0), n);
  const { rows } = await db.query<{ v: { active: number; top: string[] } | string }>('SELECT console_report_value($1, $2, $3, $4, $5, $6, $7) AS v', [sql, ...segmentParams(segs)]);
  const v = rows[0]!.v;
  return typeof v === 'string' ? (JSON.parse(v) as { active: number; top: string[] }) : v;
}

/**
 * How many users made an inference request in [from, to), when the last-seen table can say
 * exactly: `from` on a quarter-hour (every local midnight is) and no row at or after `to` (the
 * overview's ranges end after now). Otherwise undefined: count the per-user tier's keys instead.
 */
export async function activeUsers(db: Queryable, from: Date, to: Date): Promise<number | undefined> {
  if (from.getTime() % 900_000 !== 0) return undefined;
  const { rows } = await db.query<{ n: number | string; newest: Date | string | null }>(
    `SELECT count(*) FILTER (WHERE sub <> '') AS n, (SELECT max(last_t) FROM console_user_last_seen) AS newest FROM console_user_last_seen WHERE last_t >= $1`,
    [from.toISOString()],
  );
  const newest = rows[0]?.newest;
  if (newest && new Date(newest).getTime() + 900_000 > to.getTime()) return undefined;
  return Number(rows[0]?.n ?? 0);
}

/** The instants `from` and `to` name: a date is local midnight in `tz` (one query for both). */
export async function resolveRange(db: Queryable, from: string, to: string, tz: string): Promise<[Date, Date]> {
  const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v);
  const dates = [from, to].filter(isDate);
  if (!dates.length) return [new Date(from), new Date(to)];
  const { rows } = await db.query<{ t: Date | string }>(`SELECT (d::timestamp AT TIME ZONE $2::text) AS t FROM unnest($1::text[]) WITH ORDINALITY AS u(d, i) ORDER BY i`, [dates, tz]);
  const local = rows.map((r) => new Date(r.t));
  return [isDate(from) ? local.shift()! : new Date(from), isDate(to) ? local.shift()! : new Date(to)];
}

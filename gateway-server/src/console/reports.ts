/**
 * Report queries over the hourly rollups. Totals are exact for any range and display zone: whole
 * UTC hours that lie inside the range and inside one local day come from the rollups; the other
 * hours (a range starting or ending mid-hour, and hours a half-hour zone's midnight cuts) are
 * summed from the audit rows themselves, through the `at` index, so a report never scans the
 * audit log beyond those edge hours.
 */
import type { Queryable } from '../store/db';
import type { ReportQuery, ReportRow } from '../protocol/reports';
import { ERROR_OUTCOMES } from './rollup';

const METRICS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_micros'] as const;
const ERRORS_IN = ERROR_OUTCOMES.map((o) => `'${o}'`).join(', ');

/** Local bucket start of a time `x` in zone $3. */
function bucketOf(x: string, bucket: ReportQuery['bucket']): string {
  return bucket === 'none' ? 'NULL::text' : `to_char(date_trunc('${bucket}', ${x} AT TIME ZONE $3), 'YYYY-MM-DD')`;
}

function keyOf(groupBy: ReportQuery['group_by']): { expr: string; join: string } {
  switch (groupBy) {
    case 'user':
      return { expr: `NULLIF(s.sub, '')`, join: '' };
    case 'model':
      return { expr: `NULLIF(s.model, '')`, join: '' };
    case 'upstream':
      return { expr: `NULLIF(s.upstream, '')`, join: '' };
    case 'group':
      // A request counts once for each group its user was in; a user in no group under null.
      return { expr: 'g.name', join: `CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_array_length(s.groups) = 0 THEN '[null]'::jsonb ELSE s.groups END) AS g(name)` };
  }
}

/** $1 from, $2 to (timestamptz), $3 zone. */
export function reportSql(q: Pick<ReportQuery, 'bucket' | 'group_by'>): string {
  // Hours a bucket boundary cuts: with day/week/month buckets every boundary is a local midnight.
  const sameBucket = q.bucket === 'none' ? 'true' : `date_trunc('day', h AT TIME ZONE $3) = date_trunc('day', (h + interval '1 hour' - interval '1 microsecond') AT TIME ZONE $3)`;
  const key = keyOf(q.group_by);
  return `
WITH hours AS (
  SELECT h, (h >= $1::timestamptz AND h + interval '1 hour' <= $2::timestamptz AND ${sameBucket}) AS whole
  FROM generate_series(date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', $2::timestamptz, interval '1 hour') AS h
  WHERE h < $2::timestamptz
), s AS (
  SELECT r.hour AS at, r.sub, r.groups, r.model, r.upstream, ${METRICS.map((m) => `r.${m}`).join(', ')}
  FROM console_rollup_hourly r JOIN hours ON hours.whole AND r.hour = hours.h
  WHERE r.hour >= date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AND r.hour < $2::timestamptz
  UNION ALL
  SELECT a.at, coalesce(a.sub, ''), coalesce(a.groups, '[]'::jsonb), coalesce(a.model, ''), coalesce(a.upstream, ''),
    1, CASE WHEN a.outcome IN (${ERRORS_IN}) THEN 1 ELSE 0 END, coalesce(a.input_tokens, 0), coalesce(a.output_tokens, 0),
    coalesce(a.cache_creation_tokens, 0), coalesce(a.cache_read_tokens, 0), coalesce(a.cost_micros, 0)
  FROM hours JOIN audit_log a ON NOT hours.whole AND a.at >= greatest(hours.h, $1::timestamptz) AND a.at < least(hours.h + interval '1 hour', $2::timestamptz)
  WHERE a.event = 'inference'
)
SELECT ${bucketOf('s.at', q.bucket)} AS bucket, ${key.expr} AS key, ${METRICS.map((m) => `sum(s.${m})::text AS ${m}`).join(', ')}
FROM s ${key.join}
GROUP BY 1, 2
ORDER BY 1 NULLS FIRST, 2 NULLS FIRST`;
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

export async function runReport(db: Queryable, q: ReportQuery, from: Date, to: Date): Promise<{ data: ReportRow[]; totals: Metrics }> {
  // With bucket=none the zone is not in the statement, and an unused parameter has no type.
  const params = [from.toISOString(), to.toISOString(), ...(q.bucket === 'none' ? [] : [q.tz])];
  const { rows } = await db.query<Record<string, string | null>>(reportSql(q), params);
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

/** The instant a `from`/`to` parameter names: a date is local midnight in `tz`. */
export async function resolveInstant(db: Queryable, value: string, tz: string): Promise<Date> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(value);
  const { rows } = await db.query<{ t: Date | string }>(`SELECT ($1::timestamp AT TIME ZONE $2) AS t`, [value, tz]);
  return new Date(rows[0]!.t);
}

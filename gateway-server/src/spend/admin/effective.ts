/**
 * GET …/spend_limits/effective: each principal's resolved cap and period-to-date spend per
 * period (the SpendSummary shape). Without user_ids[], only principals with recorded spend in the
 * current periods are listed. Pages with an opaque `next_page` token passed back as `page`.
 * Field names and types are Anthropic's (admin-api-shapes.md); `user_id`, `limit_source`,
 * `spend_micros`, `reserved_micros`, `period_start` and `resets_at` are ours, kept as extras.
 */
import type { Queryable } from '../../store/db';
import type { z } from 'zod';
import type { effectiveQuery } from '../../protocol/spend-limits';
import { resolveCap, type LimitRow } from '../layering';
import { periodWindows, type Period } from '../periods';
import { MICROS_PER_CENT } from '../standing';
import { GatewayError } from '../../errors';

export type CapSource = { type: 'user'; user_id: string } | { type: 'rbac_group'; rbac_group_id: string } | { type: 'organization' };

export interface SpendSummaryRow {
  type: 'spend_summary';
  scope: { type: 'user'; user_id: string };
  user_id: string;
  actor: { type: 'user_actor'; user_id: string; name: string | null; email_address: string | null; deleted: boolean };
  groups: string[];
  period: Period;
  amount: string | null;
  /** The cap that applies, as a scope; null when unlimited. */
  source: CapSource | null;
  spend_limit_id: string | null;
  /** USD cents as an exact decimal string ("0.21"): sub-cent spend shows. */
  period_to_date_spend: string;
  limit_source: { id: string; scope_type: string } | null;
  spend_micros: string;
  reserved_micros: string;
  currency: 'USD';
  period_start: string;
  resets_at: string;
}

/** Micro-dollars as USD cents, exactly: 7500 → "0.75", 1_050_000 → "105", 12 → "0.0012". */
export function microsToCents(micros: bigint): string {
  const neg = micros < 0n;
  const m = neg ? -micros : micros;
  const whole = m / MICROS_PER_CENT;
  const frac = (m % MICROS_PER_CENT).toString().padStart(4, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

export function capSource(r: LimitRow): CapSource {
  if (r.scopeType === 'user') return { type: 'user', user_id: r.scopeId };
  if (r.scopeType === 'rbac_group') return { type: 'rbac_group', rbac_group_id: r.scopeId };
  return { type: 'organization' };
}

export class EffectiveReader {
  constructor(
    private readonly db: Queryable,
    private readonly limits: () => LimitRow[],
    private readonly mode: 'min' | 'max',
    private readonly now: () => number,
  ) {}

  async read(q: z.infer<typeof effectiveQuery>) {
    const windows = periodWindows(this.now());
    const wanted = new Set<Period>([q['period[]'] ?? [], q.period ?? []].flat() as Period[]);
    const periods = windows.filter((w) => wanted.size === 0 || wanted.has(w.period));
    const userIds = [...(q['user_ids[]'] ?? []), ...(q.user_ids ?? [])];
    const buckets = periods.map((w) => w.bucket);
    const { rows: counters } = await this.db.query<{ principal: string; bucket: string; spent_micros: string; reserved_micros: string }>(
      userIds.length
        ? 'SELECT principal, bucket, spent_micros, reserved_micros FROM spend_counters WHERE bucket = ANY($1::text[]) AND principal = ANY($2::text[])'
        : 'SELECT principal, bucket, spent_micros, reserved_micros FROM spend_counters WHERE bucket = ANY($1::text[]) AND spent_micros > 0',
      userIds.length ? [buckets, userIds] : [buckets],
    );
    const subs = userIds.length ? userIds : [...new Set(counters.map((c) => c.principal))];
    const { rows: people } = await this.db.query<{ sub: string; email: string | null; name: string | null; groups: string[] }>(
      'SELECT sub, email, name, groups FROM spend_principals WHERE sub = ANY($1::text[])',
      [subs],
    );
    const who = new Map(people.map((p) => [p.sub, p]));
    const rows: SpendSummaryRow[] = [];
    for (const sub of subs) {
      const p = who.get(sub);
      if (q.q) {
        const needle = q.q.toLowerCase();
        if (![sub, p?.email ?? '', p?.name ?? ''].some((s) => s.toLowerCase().includes(needle))) continue;
      }
      for (const w of periods) {
        const c = counters.find((x) => x.principal === sub && x.bucket === w.bucket);
        const cap = resolveCap(this.limits(), sub, p?.groups ?? [], w.period, this.mode);
        const spent = BigInt(c?.spent_micros ?? 0);
        rows.push({
          type: 'spend_summary',
          scope: { type: 'user', user_id: sub },
          user_id: sub,
          // Nobody is deleted here: the gateway has no directory, only the IdP's sign-ins.
          actor: { type: 'user_actor', user_id: sub, name: p?.name ?? null, email_address: p?.email ?? null, deleted: false },
          groups: p?.groups ?? [],
          period: w.period,
          amount: cap.amountCents === null ? null : String(cap.amountCents),
          source: cap.source ? capSource(cap.source) : null,
          spend_limit_id: cap.source?.id ?? null,
          period_to_date_spend: microsToCents(spent),
          limit_source: cap.source ? { id: cap.source.id, scope_type: cap.source.scopeType } : null,
          spend_micros: String(spent),
          reserved_micros: String(BigInt(c?.reserved_micros ?? 0)),
          currency: 'USD',
          period_start: w.start.toISOString(),
          resets_at: w.resetsAt.toISOString(),
        });
      }
    }
    const bySpend = (a: SpendSummaryRow, b: SpendSummaryRow) => {
      const d = BigInt(a.spend_micros) - BigInt(b.spend_micros);
      return d === 0n ? a.user_id.localeCompare(b.user_id) : d > 0n ? 1 : -1;
    };
    if (q.sort === 'spend_desc') rows.sort((a, b) => bySpend(b, a));
    else if (q.sort === 'spend_asc') rows.sort(bySpend);
    else rows.sort((a, b) => a.user_id.localeCompare(b.user_id) || a.period.localeCompare(b.period));
    let offset = 0;
    if (q.page) {
      const decoded = Number(Buffer.from(q.page, 'base64url').toString('utf8').replace(/^o:/, ''));
      if (!Number.isInteger(decoded) || decoded < 0) throw new GatewayError('INVALID_REQUEST', 'invalid page token: pass back the next_page value of the previous response');
      offset = decoded;
    }
    const data = rows.slice(offset, offset + q.limit);
    const more = offset + q.limit < rows.length;
    return { data, has_more: more, next_page: more ? Buffer.from(`o:${offset + q.limit}`).toString('base64url') : null };
  }
}

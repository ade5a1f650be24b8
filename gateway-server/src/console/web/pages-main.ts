/**
 * Overview, Users and Caps. Numbers come from the rollup tiers (console/reports.ts) and the
 * Admin API called in-process; nothing here scans the audit log.
 */
import type { FastifyRequest } from 'fastify';
import { lagTolerant, type Db } from '../../store/db';
import { reportBetween } from '../reports-routes';
import { activeUsers, resolveRange, userLeaders } from '../reports';
import type { ReportQuery, ReportRow } from '../../protocol/reports';
import { html, type SafeHtml } from './html';
import { csrfField, type Viewer } from './layout';
import { stackedBars } from './chart';
import { adminApi, type PageRender } from './context';
import { lastSeenOf, sessionsOf, type UserSession } from './sessions';

export const usd = (micros: string | number | bigint) => `$${(Number(micros) / 1e6).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
export const centsToUsd = (cents: string | null) => (cents === null ? '—' : `$${(Number(cents) / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`);
const num = (s: string | number) => Number(s).toLocaleString('en-US');
/** Series a chart shows; the rest are summed under "others". */
const TOP_SERIES = 7;

interface Range {
  q: Omit<ReportQuery, 'group_by' | 'bucket'>;
  from: Date;
  to: Date;
}

/**
 * Spend per day of the top keys by spend over the range, plus the others. Per user, only the top
 * users' days are read (the per-user tier, by key), the others being the day's total less theirs.
 */
async function stackedSpend(db: Db, r: Range, by: ReportQuery['group_by'], buckets: string[], topUsers: string[]): Promise<Map<string, number[]>> {
  const daily = (group_by: ReportQuery['group_by'], keys?: string[]) => reportBetween(db, 'spend', { ...r.q, group_by, bucket: 'day' }, r.from, r.to, keys);
  let rows: ReportRow[];
  let top: (string | null)[];
  if (by === 'user') {
    top = topUsers;
    const [total, mine] = await Promise.all([daily('model'), daily('user', topUsers)]);
    rows = [...mine.data, ...total.data.map((x) => ({ ...x, key: '\0total' }))];
  } else {
    rows = (await daily(by)).data;
    const sums = new Map<string | null, bigint>();
    for (const x of rows) sums.set(x.key, (sums.get(x.key) ?? 0n) + BigInt(x.cost_micros));
    top = [...sums].sort((x, y) => (y[1] > x[1] ? 1 : y[1] < x[1] ? -1 : 0)).slice(0, TOP_SERIES).map(([k]) => k);
  }
  const name = (k: string | null) => k ?? '(none)';
  const series = new Map<string, number[]>(top.map((k) => [name(k), buckets.map(() => 0)]));
  const others = buckets.map(() => 0n);
  for (const r of rows) {
    const i = buckets.indexOf(r.bucket!);
    if (i < 0) continue;
    const micros = BigInt(r.cost_micros);
    if (r.key === '\0total') others[i]! += micros;
    else if (top.includes(r.key)) {
      series.get(name(r.key))![i] = Number(micros) / 1e6;
      if (by === 'user') others[i]! -= micros;
    } else others[i]! += micros;
  }
  if (others.some((v) => v !== 0n)) series.set(`others`, others.map((v) => Number(v) / 1e6));
  return series;
}

const ZONES = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'America/St_Johns', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Adelaide', 'Australia/Sydney'];

function query(req: FastifyRequest): Record<string, string> {
  const q = (req.query ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(q).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}

/** Local date `YYYY-MM-DD` of `ms` in `tz`, and a date `days` later. */
export function localDate(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** The overview's range: the last `days` local days, today included. */
export function overviewRange(nowMs: number, tz: string, days: number): { from: string; to: string } {
  const today = localDate(nowMs, tz);
  return { from: addDays(today, 1 - days), to: addDays(today, 1) };
}

function rangeForm(tz: string, days: number, by: string): SafeHtml {
  return html`<form method="get" class="bar" aria-label="Range">
<label>Days<select name="days">${[7, 30, 90].map((d) => html`<option value="${d}"${d === days ? html` selected` : ''}>${d}</option>`)}</select></label>
<label>Time zone<select name="tz" data-auto>${[...new Set([tz, ...ZONES])].map((z) => html`<option${z === tz ? html` selected` : ''}>${z}</option>`)}</select></label>
<label>Stack by<select name="by">${['model', 'group', 'user', 'upstream'].map((b) => html`<option${b === by ? html` selected` : ''}>${b}</option>`)}</select></label>
<button type="submit">Show</button></form>`;
}

export const overviewPage: PageRender = async (c, req, { session }) => {
  const q = query(req);
  const tz = ZONES.includes(q.tz ?? '') || (q.tz && isZone(q.tz)) ? q.tz! : 'UTC';
  const days = [7, 30, 90].includes(Number(q.days)) ? Number(q.days) : 30;
  const by = (['model', 'group', 'user', 'upstream'] as const).find((b) => b === q.by) ?? 'model';
  const { from, to } = overviewRange(c.fctx.clock.now(), tz, days);
  const base: Omit<ReportQuery, 'group_by' | 'bucket'> = { from, to, tz };
  const db = c.fctx.db;
  const reads = lagTolerant(db);
  const [fromAt, toAt] = await resolveRange(reads, from, to, tz);
  const range: Range = { q: base, from: fromAt, to: toAt };
  const buckets = Array.from({ length: days }, (_, i) => addDays(from, i));
  // Per-user sums only when the chart needs the top users (or the last-seen table cannot count them).
  const users = (async () => {
    const known = by === 'user' ? undefined : await activeUsers(reads, fromAt, toAt);
    return known === undefined ? userLeaders(reads, fromAt, toAt, TOP_SERIES) : { active: known, top: [] };
  })();
  const [upstreams, { active }, series, breakers] = await Promise.all([
    reportBetween(db, 'usage', { ...base, group_by: 'upstream', bucket: 'none' }, fromAt, toAt),
    users,
    by === 'user' ? users.then((u) => stackedSpend(db, range, by, buckets, u.top)) : stackedSpend(db, range, by, buckets, []),
    adminApi(c, session, 'GET', '/v1/organizations/upstreams'),
  ]);
  const t = upstreams.totals;
  const tokensIn = BigInt(t.input_tokens) + BigInt(t.cache_write_tokens) + BigInt(t.cache_read_tokens);
  const cacheShare = tokensIn > 0n ? Number((BigInt(t.cache_read_tokens) * 10000n) / tokensIn) / 100 : 0;
  const states = new Map(((breakers.body as { data?: { name: string; circuit: { state: string } }[] })?.data ?? []).map((u) => [u.name, u.circuit.state]));
  const card = (label: string, metric: string, value: string, shown: string) => html`<div class="card"><span class="muted">${label}</span><b data-metric="${metric}" data-value="${value}">${shown}</b></div>`;
  return html`${rangeForm(tz, days, by)}
<p class="muted">From ${from} to ${addDays(to, -1)} inclusive, days in ${tz}.</p>
<div class="cards">${card('Spend', 'cost_micros', t.cost_micros, usd(t.cost_micros))}${card('Requests', 'requests', t.requests, num(t.requests))}
${card('Input tokens', 'input_tokens', t.input_tokens, num(t.input_tokens))}${card('Output tokens', 'output_tokens', t.output_tokens, num(t.output_tokens))}
${card('Cache write tokens', 'cache_write_tokens', t.cache_write_tokens, num(t.cache_write_tokens))}${card('Cache read tokens', 'cache_read_tokens', t.cache_read_tokens, num(t.cache_read_tokens))}
${card('Cache-read share of input', 'cache_read_share', String(cacheShare), `${cacheShare}%`)}${card('Active users', 'active_users', String(active), num(active))}</div>
<h2>Spend per day by ${by}${series.has('others') ? ` (top ${TOP_SERIES} and others)` : ''}</h2>${stackedBars({ buckets, series }, `Spend per day by ${by}`, (n) => usd(Math.round(n * 1e6)))}
<h2>Upstreams</h2><table><thead><tr><th>Upstream</th><th class="n">Requests</th><th class="n">Errors</th><th class="n">Error rate</th><th>Breaker</th></tr></thead><tbody>
${upstreams.data.map((u) => html`<tr><td>${u.key ?? '(none)'}</td><td class="n">${num(u.requests)}</td><td class="n">${num(u.errors)}</td><td class="n">${Number(u.requests) ? ((Number(u.errors) / Number(u.requests)) * 100).toFixed(1) : '0.0'}%</td><td>${u.key ? (states.get(u.key) ?? '—') : '—'}</td></tr>`)}
</tbody></table><p class="muted">The same figures as <code>GET /v1/organizations/reports/usage?from=${from}&amp;to=${to}&amp;tz=${tz}</code>.</p>`;
};

function isZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz.length < 64;
  } catch {
    return false;
  }
}

interface EffectiveRow {
  user_id: string;
  actor: { name: string | null; email_address: string | null };
  groups: string[];
  period: string;
  amount: string | null;
  source: { type: string; user_id?: string; rbac_group_id?: string } | null;
  spend_limit_id: string | null;
  period_to_date_spend: string;
}

const minute = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');

function sessionsCell(list: UserSession[]): SafeHtml {
  if (!list.length) return html`<span class="muted">none active</span>`;
  return html`<ul class="sessions">${list.map((s) => html`<li data-sid="${s.sid}" data-state="${s.revoked ? 'revoked' : 'active'}"><b>${s.client ?? 'unknown client'}</b>${s.revoked ? html` <span class="bad">revoked</span>` : ''}
<br><span class="muted">signed in ${s.created ? minute(s.created) : 'over 30 days ago'} · last used ${minute(s.lastUsed)} · expires ${minute(s.expires)}</span></li>`)}</ul>`;
}

const sourceText = (s: EffectiveRow['source']) => (!s ? 'no cap' : s.type === 'user' ? 'user cap' : s.type === 'rbac_group' ? `group ${s.rbac_group_id}` : 'organisation');
const actionsOff = (v: Viewer) => (v.role === 'admin' ? '' : html` disabled title="read-only: viewer_groups members cannot change anything"`);

export const usersPage: PageRender = async (c, req, { session, viewer }) => {
  const q = query(req);
  const search = (q.q ?? '').slice(0, 200);
  const period = (['daily', 'weekly', 'monthly'] as const).find((p) => p === q.period) ?? 'monthly';
  const like = `%${search.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
  const { rows: people } = await lagTolerant(c.fctx.db).query<{ sub: string; last_seen: Date | string }>(
    `SELECT sub, last_seen FROM spend_principals WHERE $1 = '' OR sub ILIKE $2 OR email ILIKE $2 OR name ILIKE $2 ORDER BY last_seen DESC LIMIT 50`,
    [search, like],
  );
  const params = new URLSearchParams({ period, limit: '50', sort: 'spend_desc' });
  for (const p of people) params.append('user_ids[]', p.sub);
  const eff = people.length ? await adminApi(c, session, 'GET', `/v1/organizations/spend_limits/effective?${params}`) : undefined;
  const rows = ((eff?.body as { data?: EffectiveRow[] })?.data ?? []) as EffectiveRow[];
  const subs = people.map((p) => p.sub);
  const [sessions, lastSeen] = await Promise.all([
    sessionsOf(lagTolerant(c.fctx.db), c.fctx.features.identity?.revocations, subs, c.fctx.clock.now()),
    lastSeenOf(lagTolerant(c.fctx.db), subs),
  ]);
  // The audit log's latest row; spend_principals.last_seen moves only daily, so it is the fallback.
  const seen = new Map(people.map((p) => [p.sub, minute(lastSeen.get(p.sub) ?? new Date(p.last_seen))]));
  return html`<form method="get" class="bar" role="search"><label>Name, email or subject<input name="q" value="${search}" autocomplete="off"></label>
<label>Period<select name="period">${['daily', 'weekly', 'monthly'].map((p) => html`<option${p === period ? html` selected` : ''}>${p}</option>`)}</select></label><button type="submit">Search</button></form>
<table><thead><tr><th>User</th><th>Groups</th><th class="n">Spend this ${period.replace('ly', '').replace('dai', 'day')}</th><th class="n">Cap</th><th>Cap source</th><th>Last seen (UTC)</th><th>Sessions</th><th>Actions</th></tr></thead><tbody>
${rows.map((r) => html`<tr data-user="${r.user_id}"><td><b>${r.actor.name ?? r.user_id}</b><br><span class="muted">${r.actor.email_address ?? ''} · ${r.user_id}</span></td><td>${r.groups.join(', ')}</td>
<td class="n">${centsToUsd(r.period_to_date_spend)}</td><td class="n">${centsToUsd(r.amount)}</td><td>${sourceText(r.source)}</td><td>${seen.get(r.user_id) ?? ''}</td><td>${sessionsCell(sessions.get(r.user_id) ?? [])}</td>
<td><form method="post" action="/console/users/cap" class="bar">${csrfField(viewer)}<input type="hidden" name="user_id" value="${r.user_id}"><input type="hidden" name="period" value="${period}">
<label>Cap in $ <input name="dollars" inputmode="decimal" size="6" aria-label="${period} cap in dollars for ${r.user_id}"></label><button type="submit"${actionsOff(viewer)}>Set cap</button></form>
${r.source?.type === 'user' && r.spend_limit_id ? html`<form method="post" action="/console/caps/delete" class="inline" data-confirm="Clear this user's cap?">${csrfField(viewer)}<input type="hidden" name="id" value="${r.spend_limit_id}"><button type="submit"${actionsOff(viewer)}>Clear cap</button></form>` : ''}
<form method="post" action="/console/users/revoke" class="inline" data-confirm="End every session of this user now?">${csrfField(viewer)}<input type="hidden" name="user_id" value="${r.user_id}"><button type="submit" class="danger"${actionsOff(viewer)}>Revoke all sessions</button></form></td></tr>`)}
</tbody></table>${rows.length ? '' : html`<p class="muted">Nobody matches. People appear here after their first request through the gateway.</p>`}`;
};

/**
 * The Audit page: every filter (user, outcome, event, model, upstream, time range) combinable and
 * kept in the URL, so a filtered view can be shared; newest first, 100 a page, "older" by a
 * keyset cursor on (at, id); the filtered set exported as JSONL or CSV streamed page by page
 * (no row cap, constant memory); and a chain-verification badge for the selected time range,
 * run on demand through the audit feature's verifier. Reading is itself audited, as through the
 * Admin API (`admin.audit.read`, naming the person).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { auditQuerySchema, type AuditEntry } from '../../protocol/audit';
import { pageByTime, streamByTime, type AuditCursor, type AuditFilter } from '../../audit/query';
import { verifyAuditRange, type VerifyReport } from '../../audit/verify';
import { lagTolerant } from '../../store/db';
import { csvCell } from '../reports-routes';
import { html, type SafeHtml } from './html';
import { signedIn, type ConsoleCtx, type Signed } from './context';
import { usd } from './pages-main';

const FILTERS = ['user_id', 'outcome', 'event', 'model', 'upstream', 'since', 'until'] as const;
const filterSchema = auditQuerySchema.pick({ user_id: true, outcome: true, event: true, model: true, upstream: true, since: true, until: true });
/** `older` = `<ISO time>,<id>` of the last row of the page before. */
const olderSchema = z.string().regex(/^\d{4}-\d\d-\d\dT[\d:.]+Z,\d{1,19}$/);
const OUTCOMES = ['ok', 'denied', 'denied_auth', 'denied_policy', 'blocked_spend', 'upstream_error', 'upstream_cut', 'client_aborted', 'error'];

interface Parsed {
  filter: AuditFilter;
  /** The filters as typed, for the form and for links (only the set ones). */
  params: URLSearchParams;
  older?: AuditCursor;
  error?: string;
}

export function parseAuditQuery(req: FastifyRequest): Parsed {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const params = new URLSearchParams();
  for (const k of FILTERS) if (typeof q[k] === 'string' && q[k].trim()) params.set(k, q[k].trim().slice(0, 512));
  const parsed = filterSchema.safeParse(Object.fromEntries(params));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { filter: {}, params, error: `${issue.path.join('.')}: ${issue.message}` };
  }
  const older = typeof q.older === 'string' && olderSchema.safeParse(q.older).success ? q.older.split(',') : undefined;
  return { filter: parsed.data, params, ...(older ? { older: { at: older[0]!, id: older[1]! } } : {}) };
}

async function auditRead(c: ConsoleCtx, req: FastifyRequest, s: Signed, filter: AuditFilter, what: string): Promise<void> {
  await c.fctx.emit({ name: 'admin.audit.read', at: new Date(c.fctx.clock.now()), requestId: req.id, actor: `oidc:${s.session.sub}`, outcome: 'ok', surface: 'console', detail: { filters: filter, read_only: s.viewer.role !== 'admin', via: what } });
}

function filterForm(p: Parsed, c: ConsoleCtx): SafeHtml {
  const v = (k: string) => p.params.get(k) ?? '';
  const field = (k: string, label: string, list?: string) => html`<label>${label}<input name="${k}" value="${v(k)}"${list ? html` list="${list}"` : ''} autocomplete="off"></label>`;
  return html`<form method="get" action="/console/audit" class="bar" aria-label="Filter">${field('user_id', 'User (subject)')}${field('outcome', 'Outcome', 'outcomes')}${field('event', 'Event')}${field('model', 'Model')}${field('upstream', 'Upstream', 'upstreams')}
${field('since', 'Since (ISO time, inclusive)')}${field('until', 'Until (ISO time, exclusive)')}<button type="submit">Filter</button> <a href="/console/audit">Clear</a></form>
<datalist id="outcomes">${OUTCOMES.map((o) => html`<option value="${o}">`)}</datalist><datalist id="upstreams">${c.fctx.upstreams.map((u) => html`<option value="${u.name}">`)}</datalist>`;
}

function badge(r: VerifyReport, p: Parsed): SafeHtml {
  const range = p.filter.since || p.filter.until ? `rows from ${p.filter.since ?? 'the start'} until ${p.filter.until ?? 'now'}` : 'the whole log';
  const first = r.breaks[0];
  return html`<div class="notice${r.ok ? '' : ' error'}" role="status" data-chain="${r.ok ? 'intact' : 'broken'}" data-rows="${r.rows}"${first ? html` data-break-id="${first.id}" data-break-kind="${first.kind}"` : ''}>
<b>${r.ok ? 'Chain intact' : 'Chain broken'}</b> for ${range}: ${r.rows} rows in ${r.chains} chain(s) checked.
${first ? html`<br>First broken link: row <b>${first.id}</b> (chain ${first.chain}, sequence ${first.seq}), ${first.kind.replaceAll('_', ' ')}: ${first.message}.${r.breaks.length > 1 ? html` ${r.breaks.length - 1} more chain(s) broken.` : ''}` : ''}</div>`;
}

function rowsTable(rows: AuditEntry[], brokenId?: string): SafeHtml {
  return html`<table><thead><tr><th>Time (UTC)</th><th>Event</th><th>Who</th><th>Model</th><th>Upstream</th><th>Outcome</th><th class="n">Cost</th></tr></thead><tbody>
${rows.map((r) => html`<tr data-id="${r.id}"${r.id === brokenId ? html` class="bad"` : ''}><td>${r.at.replace('T', ' ').slice(0, 23)}</td><td>${r.event}</td><td>${r.principal?.sub ?? r.actor ?? ''}</td><td>${r.model ?? ''}</td><td>${r.upstream ?? ''}</td><td>${r.outcome}${r.reason ? html` <span class="muted">(${r.reason})</span>` : ''}</td><td class="n">${r.cost_micros ? usd(r.cost_micros) : ''}</td></tr>`)}
</tbody></table>`;
}

async function auditBody(c: ConsoleCtx, req: FastifyRequest, s: Signed, verify: boolean): Promise<SafeHtml> {
  const p = parseAuditQuery(req);
  if (p.error) return html`${filterForm(p, c)}<p class="notice error" role="status">${p.error}</p>`;
  const db = lagTolerant(c.fctx.db);
  await auditRead(c, req, s, p.filter, verify ? 'console verify' : 'console page');
  const report = verify ? await verifyAuditRange(db, { ...(p.filter.since ? { since: new Date(p.filter.since) } : {}), ...(p.filter.until ? { until: new Date(p.filter.until) } : {}) }) : undefined;
  const page = await pageByTime(db, p.filter, 'desc', 100, p.older);
  const qs = p.params.toString();
  const hidden = [...p.params].map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`${filterForm(p, c)}${report ? badge(report, p) : ''}
<div class="bar"><span>Export the filtered set (every row, oldest first):</span> <a href="/console/audit/export?${qs}${qs ? '&' : ''}format=jsonl" download>JSONL</a> <a href="/console/audit/export?${qs}${qs ? '&' : ''}format=csv" download>CSV</a>
<form method="get" action="/console/audit/verify" class="inline">${hidden}<button type="submit" data-verify>Verify the hash chain for ${p.filter.since || p.filter.until ? 'this time range' : 'the whole log'}</button></form></div>
${rowsTable(page.rows, report?.breaks[0]?.id)}<p class="muted">${page.rows.length ? `Newest first, ${page.rows.length} row(s) on this page.` : 'No entries match.'}
${page.next ? html` <a href="/console/audit?${qs}${qs ? '&' : ''}older=${encodeURIComponent(`${page.next.at},${page.next.id}`)}" rel="next">Older entries</a>` : ''}</p>`;
}

const CSV_COLUMNS = ['id', 'at', 'event', 'request_id', 'sub', 'email', 'actor', 'surface', 'session_id', 'model', 'upstream', 'status', 'outcome', 'reason',
  'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'cost_micros', 'latency_ms', 'chain', 'seq', 'hash'] as const;

export function csvRow(e: AuditEntry): string {
  const tokens = { input_tokens: e.tokens?.input, output_tokens: e.tokens?.output, cache_read_tokens: e.tokens?.cache_read, cache_creation_tokens: e.tokens?.cache_creation };
  const flat: Record<string, unknown> = { ...e, sub: e.principal?.sub, email: e.principal?.email, ...tokens };
  return `${CSV_COLUMNS.map((k) => csvCell(flat[k] === null || flat[k] === undefined ? null : String(flat[k]))).join(',')}\r\n`;
}

async function* exportLines(rows: AsyncGenerator<AuditEntry>, csv: boolean): AsyncGenerator<string> {
  if (csv) yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const e of rows) yield csv ? csvRow(e) : `${JSON.stringify(e)}\n`;
}

export async function consoleAuditRoutes(app: FastifyInstance, c: ConsoleCtx, show: (reply: FastifyReply, s: Signed, body: SafeHtml, status?: number) => FastifyReply): Promise<void> {
  app.get('/console/audit', async (req, reply) => {
    const s = await signedIn(c, req, reply);
    return s ? show(reply, s, await auditBody(c, req, s, false)) : reply;
  });
  app.get('/console/audit/verify', async (req, reply) => {
    const s = await signedIn(c, req, reply);
    return s ? show(reply, s, await auditBody(c, req, s, true)) : reply;
  });
  app.get('/console/audit/export', async (req, reply) => {
    const s = await signedIn(c, req, reply);
    if (!s) return reply;
    const p = parseAuditQuery(req);
    if (p.error) return show(reply, s, html`${filterForm(p, c)}<p class="notice error" role="status">Export refused: ${p.error}</p>`, 400);
    const csv = (req.query as Record<string, unknown>)?.format === 'csv';
    // Without an end, the export ends where it started: rows written while it runs would otherwise extend it without bound.
    const filter: AuditFilter = { ...p.filter, until: p.filter.until ?? new Date(c.fctx.clock.now()).toISOString() };
    await auditRead(c, req, s, filter, `console export ${csv ? 'csv' : 'jsonl'}`);
    reply.header('content-disposition', `attachment; filename="tollgate-audit.${csv ? 'csv' : 'jsonl'}"`).header('cache-control', 'no-store');
    reply.type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    return reply.send(Readable.from(exportLines(streamByTime(lagTolerant(c.fctx.db), filter), csv)));
  });
}


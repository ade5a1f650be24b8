/**
 * GET /v1/organizations/reports/spend and /usage (admin read access: read or write key, an
 * admin_groups or viewer_groups bearer). JSON by default; CSV with `format=csv` or
 * `Accept: text/csv`. Backed by the rollup tiers (console/reports.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { AdminAuthenticator } from '../admin/admin-auth';
import { lagTolerant, type Db } from '../store/db';
import { reportQuerySchema, type Report, type ReportKind, type ReportQuery, type ReportRow } from '../protocol/reports';
import { resolveRange, runReport } from './reports';

/** Longest range one report covers (day buckets for thirteen months, with room for zones). */
const MAX_RANGE_MS = 400 * 86_400_000;

const COLUMNS: Record<ReportKind, (keyof ReportRow)[]> = {
  spend: ['bucket', 'key', 'requests', 'cost_micros', 'cost_usd'],
  usage: ['bucket', 'key', 'requests', 'errors', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_micros', 'cost_usd'],
};

/** A CSV cell: quoted when needed, and a leading formula character defused for spreadsheets. */
export function csvCell(v: string | null): string {
  if (v === null) return '';
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function parseQuery(raw: unknown): ReportQuery {
  const parsed = reportQuerySchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    const what = issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')} (use from, to, group_by, bucket, tz, format)` : issue.message;
    throw new GatewayError('INVALID_REQUEST', `${where}${what}`);
  }
  return parsed.data;
}

function wantsCsv(req: FastifyRequest, q: ReportQuery): boolean {
  if (q.format) return q.format === 'csv';
  return /text\/csv/i.test(String(req.headers.accept ?? ''));
}

export async function buildReport(db: Db, kind: ReportKind, q: ReportQuery): Promise<Report> {
  const [from, to] = await resolveRange(lagTolerant(db), q.from, q.to, q.tz);
  return reportBetween(db, kind, q, from, to);
}

/** A report over instants already resolved. `keys`: only these keys (the console's chart of top users); not a parameter of the API. */
export async function reportBetween(db: Db, kind: ReportKind, q: ReportQuery, from: Date, to: Date, keys?: string[]): Promise<Report> {
  if (!(from < to)) throw new GatewayError('INVALID_REQUEST', '`from` must be before `to`');
  if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw new GatewayError('INVALID_REQUEST', 'a report covers at most 400 days: split the range');
  const { data, totals } = await runReport(lagTolerant(db), q, from, to, keys);
  return { type: 'report', report: kind, from: from.toISOString(), to: to.toISOString(), tz: q.tz, bucket: q.bucket, group_by: q.group_by, data, totals };
}

export async function reportRoutes(app: FastifyInstance, opts: { admin: AdminAuthenticator; db: Db }): Promise<void> {
  for (const kind of ['spend', 'usage'] as const) {
    app.get(`/v1/organizations/reports/${kind}`, async (req, reply) => {
      reply.header('request-id', req.id);
      await opts.admin.authenticate(req, 'read');
      const q = parseQuery(req.query);
      const report = await buildReport(opts.db, kind, q);
      reply.header('cache-control', 'no-store');
      if (!wantsCsv(req, q)) return report;
      const cols = COLUMNS[kind];
      const lines = [cols.join(','), ...report.data.map((r) => cols.map((c) => csvCell(r[c])).join(','))];
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="tollgate-${kind}-${q.group_by}.csv"`)
        .send(`${lines.join('\r\n')}\r\n`);
    });
  }
}

/**
 * GET /v1/me/requests (bearer): the caller's own latest requests and their charges.
 *
 * GET /v1/organizations/audit (admin read access): filter by user, event, outcome, model, upstream and time.
 * JSON pages list newest first (`after_id` = last id of the previous page). JSONL
 * (`?format=jsonl` or `Accept: application/x-ndjson`) streams every matching entry oldest
 * first, `after_id` resuming an interrupted export; it reads in pages, never the whole log.
 */
import { lagTolerant } from '../store/db';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AdminAuthenticator } from '../admin/admin-auth';
import { GatewayError } from '../errors';
import type { BearerAuthenticator } from '../auth/bearer';
import type { FeatureContext } from '../feature';
import type { Queryable } from '../store/db';
import { auditQuerySchema, type AuditEntry, type AuditQuery } from '../protocol/audit';
import { myRequestsQuerySchema, type MyRequestsResponse } from '../protocol/me';
import { ROW_COLUMNS } from './record';
import { toEntry } from './entry';
import { auditWhere } from './query';

export { toEntry };

const EXPORT_PAGE = 1000;

export async function listAudit(db: Queryable, q: AuditQuery, order: 'desc' | 'asc', limit: number, afterId?: string) {
  const { where, params } = auditWhere(q);
  if (afterId) {
    params.push(afterId);
    where.push(`id ${order === 'desc' ? '<' : '>'} $${params.length}::bigint`);
  }
  const sql = `SELECT id, ${ROW_COLUMNS.join(', ')} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY id ${order} LIMIT ${limit + 1}`;
  const { rows } = await db.query<Record<string, unknown>>(sql, params);
  return { rows: rows.slice(0, limit).map(toEntry), hasMore: rows.length > limit };
}

function wantsJsonl(req: FastifyRequest, q: AuditQuery): boolean {
  if (q.format) return q.format === 'jsonl';
  return /application\/(x-ndjson|jsonl)/i.test(String(req.headers.accept ?? ''));
}

export async function auditRoutes(app: FastifyInstance, ctx: FeatureContext & { auth: BearerAuthenticator }): Promise<void> {
  const admin = new AdminAuthenticator(ctx.config, ctx.auth, (e) => ctx.emit(e));

  // The caller's own requests (bearer): what the sidebar lists, with the exact charge of each.
  app.get('/v1/me/requests', async (req, reply): Promise<MyRequestsResponse> => {
    const principal = ctx.auth.authenticate(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined);
    const parsed = myRequestsQuerySchema.safeParse(req.query ?? {});
    if (!parsed.success) throw new GatewayError('INVALID_REQUEST', 'limit must be a whole number from 1 to 100');
    const { rows } = await lagTolerant(ctx.db).query<Record<string, unknown>>(
      `SELECT request_id, at, model, status, outcome, input_tokens, output_tokens, cost_micros FROM audit_log
        WHERE sub = $1 AND event = 'inference' ORDER BY id DESC LIMIT $2`,
      [principal.sub, parsed.data.limit],
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    reply.header('cache-control', 'no-store');
    return {
      data: rows.map((r) => ({
        request_id: (r.request_id as string | null) ?? null,
        at: new Date(r.at as Date | string).toISOString(),
        model: (r.model as string | null) ?? null,
        status: num(r.status),
        outcome: (r.outcome as string | null) ?? null,
        input_tokens: num(r.input_tokens),
        output_tokens: num(r.output_tokens),
        cost_micros: num(r.cost_micros),
      })),
    };
  });

  app.get('/v1/organizations/audit', async (req, reply) => {
    const actor = await admin.authenticate(req, 'read');
    const parsed = auditQuerySchema.safeParse(req.query ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
      throw new GatewayError('INVALID_REQUEST', `${where}${issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}` : issue.message}`);
    }
    const q = parsed.data;
    // Reading the audit trail is itself audited (who read what), committed before any row is served.
    const { limit: _limit, ...filters } = q;
    await ctx.emit({ name: 'admin.audit.read', at: new Date(), requestId: req.id, actor: actor.id, outcome: 'ok', detail: { filters, read_only: !actor.canWrite } });
    reply.header('cache-control', 'no-store');
    if (wantsJsonl(req, q)) {
      const explicitLimit = (req.query as Record<string, unknown>).limit !== undefined;
      let remaining = explicitLimit ? q.limit : Infinity;
      async function* lines() {
        let after = q.after_id;
        while (remaining > 0) {
          const page = await listAudit(lagTolerant(ctx.db), q, 'asc', Math.min(EXPORT_PAGE, remaining), after);
          for (const e of page.rows) yield `${JSON.stringify(e)}\n`;
          remaining -= page.rows.length;
          if (!page.hasMore || page.rows.length === 0) return;
          after = page.rows[page.rows.length - 1]!.id;
        }
      }
      return reply.type('application/x-ndjson').send(Readable.from(lines()));
    }
    const page = await listAudit(lagTolerant(ctx.db), q, 'desc', q.limit, q.after_id);
    return {
      data: page.rows,
      has_more: page.hasMore,
      first_id: page.rows[0]?.id ?? null,
      last_id: page.rows[page.rows.length - 1]?.id ?? null,
    };
  });
}

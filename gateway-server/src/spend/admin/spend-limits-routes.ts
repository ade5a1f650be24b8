/**
 * /v1/organizations/spend_limits: list, upsert, get, delete, effective, audit. Every route is
 * authenticated by AdminAuthenticator, every input validated with zod, every error rendered in the
 * Anthropic envelope with request_id, every response stamped with `request-id`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { GatewayError } from '../../errors';
import type { AdminAuthenticator } from '../../admin/admin-auth';
import type { SpendLimitsStore } from './spend-limits-store';
import { auditQuery, effectiveQuery, listSpendLimitsQuery, upsertSpendLimitSchema } from '../../protocol/spend-limits';
import type { GatewayEvent } from '../../feature';
import type { EffectiveReader } from './effective';

export interface SpendLimitRoutesOptions {
  admin: AdminAuthenticator;
  store: SpendLimitsStore;
  effective: EffectiveReader;
  emit(e: GatewayEvent): Promise<void>;
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first?.path.length ? `${first.path.join('.')}: ` : '';
    throw new GatewayError('INVALID_REQUEST', `invalid ${what}: ${where}${first?.message ?? 'malformed'}`);
  }
  return r.data;
}

const BASE = '/v1/organizations/spend_limits';

export async function spendLimitRoutes(app: FastifyInstance, opts: SpendLimitRoutesOptions): Promise<void> {
  const { admin, store, effective, emit } = opts;
  app.addHook('onRequest', async (req, reply) => {
    reply.header('request-id', req.id);
  });

  const event = (req: FastifyRequest, name: string, actor: string, detail: Record<string, unknown>): GatewayEvent => ({
    name,
    at: new Date(),
    requestId: req.id,
    actor,
    outcome: 'ok',
    detail,
  });

  app.get(BASE, async (req) => {
    await admin.authenticate(req, 'read');
    return store.list(parseOrThrow(listSpendLimitsQuery, req.query, 'query'));
  });

  app.post(BASE, async (req) => {
    const actor = await admin.authenticate(req, 'write');
    const body = parseOrThrow(upsertSpendLimitSchema, req.body, 'spend limit');
    if (body.currency !== undefined && body.currency.toUpperCase() !== 'USD') {
      throw new GatewayError('INVALID_REQUEST', `currency ${body.currency} is not supported: spend limits are in USD cents`);
    }
    const { before, after } = await store.upsert({ scope: body.scope, amount: body.amount, period: body.period, isEnabled: body.is_enabled ?? true }, actor.id, req.id);
    await emit(event(req, 'admin.limit.upsert', actor.id, { id: after.id, scope: after.scope, period: after.period, before: before?.amount ?? null, after: after.amount }));
    return after;
  });

  app.get(`${BASE}/effective`, async (req) => {
    await admin.authenticate(req, 'read');
    return effective.read(parseOrThrow(effectiveQuery, req.query, 'query'));
  });

  app.get(`${BASE}/audit`, async (req) => {
    await admin.authenticate(req, 'read');
    return store.audit(parseOrThrow(auditQuery, req.query, 'query'));
  });

  app.get<{ Params: { id: string } }>(`${BASE}/:id`, async (req) => {
    await admin.authenticate(req, 'read');
    const found = await store.get(req.params.id);
    if (!found) throw new GatewayError('NOT_FOUND', `spend limit ${req.params.id} not found`);
    return found;
  });

  app.delete<{ Params: { id: string } }>(`${BASE}/:id`, async (req) => {
    const actor = await admin.authenticate(req, 'write');
    const gone = await store.delete(req.params.id, actor.id, req.id);
    if (!gone) throw new GatewayError('NOT_FOUND', `spend limit ${req.params.id} not found`);
    await emit(event(req, 'admin.limit.delete', actor.id, { id: gone.id, scope: gone.scope, period: gone.period, before: gone.amount }));
    return { type: 'spend_limit_deleted', id: gone.id };
  });
}

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
import { auditQuery, effectiveQuery, listSpendLimitsQuery, upsertSpendLimitSchema, type SpendScope } from '../../protocol/spend-limits';
import type { GatewayEvent } from '../../feature';
import type { EffectiveReader } from './effective';
import type { LimitCache } from '../limit-cache';

export interface SpendLimitRoutesOptions {
  admin: AdminAuthenticator;
  store: SpendLimitsStore;
  effective: EffectiveReader;
  /** This replica's cap cache: updated before a mutation replies, so the cap binds at once here. */
  limits: LimitCache;
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
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Caps key on the IdP subject, which is opaque for Okta and Entra, while people type emails. An
 * email resolves to the subject of whoever was seen with it; a cap that would match nobody is
 * refused (user) or flagged (group), never silently kept.
 */
async function resolveScope(store: SpendLimitsStore, scope: SpendScope): Promise<{ scope: SpendScope; extra: Record<string, string> }> {
  if (scope.type === 'user' && EMAIL.test(scope.user_id)) {
    const { exact, subs } = await store.subjectsFor(scope.user_id);
    if (exact) return { scope, extra: {} };
    if (subs.length === 0) {
      throw new GatewayError(
        'INVALID_REQUEST',
        `nobody has signed in with the email ${scope.user_id} yet, and caps key on the IdP subject: have them sign in to the gateway once, then set the cap by email again, or key it by their IdP subject (the user_id that GET /v1/organizations/spend_limits/effective lists)`,
      );
    }
    if (subs.length > 1) {
      throw new GatewayError('INVALID_REQUEST', `several people signed in with the email ${scope.user_id}: key the cap by one subject (${subs.slice(0, 5).join(', ')})`);
    }
    return { scope: { type: 'user', user_id: subs[0]! }, extra: { resolved_from_email: scope.user_id } };
  }
  if (scope.type === 'rbac_group' && !(await store.groupSeen(scope.rbac_group_id))) {
    return {
      scope,
      extra: { warning: `no one signed in with the IdP group ${scope.rbac_group_id} yet: the cap applies once someone in that group signs in; check the spelling against the groups GET …/spend_limits/effective lists` },
    };
  }
  return { scope, extra: {} };
}

export async function spendLimitRoutes(app: FastifyInstance, opts: SpendLimitRoutesOptions): Promise<void> {
  const { admin, store, effective, emit, limits } = opts;
  app.addHook('onRequest', async (req, reply) => {
    reply.header('request-id', req.id);
  });
  // Many HTTP clients send `content-type: application/json` with no body on DELETE and GET;
  // Anthropic's gateway accepts that, so an empty JSON body here is no body (routes that need
  // one say so through zod).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    json(req, body as string, done);
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
    const { scope, extra } = await resolveScope(store, body.scope);
    const { before, after, row } = await store.upsert({ scope, amount: body.amount, period: body.period, isEnabled: body.is_enabled ?? true }, actor.id, req.id);
    limits.applyLocal({ upsert: row });
    await emit(event(req, 'admin.limit.upsert', actor.id, { id: after.id, scope: after.scope, period: after.period, before: before?.amount ?? null, after: after.amount }));
    return { ...after, ...extra };
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
    limits.applyLocal({ deleted: gone.id });
    await emit(event(req, 'admin.limit.delete', actor.id, { id: gone.id, scope: gone.scope, period: gone.period, before: gone.amount }));
    return { type: 'spend_limit_deleted', id: gone.id };
  });
}

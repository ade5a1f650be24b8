/**
 * Admin offboarding: revoke every session of a user now (bearer tokens and refresh tokens issued
 * up to this second), on every replica within a second. Tollgate extension; the official gateway
 * can only wait for the next refresh.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AdminAuthenticator } from '../admin/admin-auth';
import type { BearerAuthenticator } from './bearer';
import { GatewayError } from '../errors';
import { emit, type IdentityService } from './service';

const params = z.object({ user_id: z.string().min(1).max(512) });

export async function adminRoutes(app: FastifyInstance, svc: IdentityService, bearer: BearerAuthenticator): Promise<void> {
  const admin = new AdminAuthenticator(svc.ctx.config, bearer, svc.ctx.emit);
  app.post('/v1/organizations/users/:user_id/sessions/revoke', async (req, reply) => {
    const actor = await admin.authenticate(req, 'write');
    const p = params.safeParse(req.params);
    if (!p.success) throw new GatewayError('INVALID_REQUEST', 'user_id must be the user\'s subject (sub), 1-512 characters');
    const before = await svc.revocations.revokeUser(p.data.user_id);
    await emit(svc, req, {
      name: 'session.revoke',
      outcome: 'ok',
      actor: actor.id,
      principal: { sub: p.data.user_id },
      reason: 'all sessions revoked by an administrator',
      detail: { scope: 'user', revoked_before: before.toISOString() },
    });
    return reply.header('cache-control', 'no-store').send({ user_id: p.data.user_id, revoked_before: before.toISOString() });
  });
}

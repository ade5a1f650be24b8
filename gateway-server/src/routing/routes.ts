/** Admin read view of the upstreams and their breakers (docs/routing.md). */
import type { FastifyInstance } from 'fastify';
import type { AdminAuthenticator } from '../admin/admin-auth';
import type { UpstreamsList } from '../protocol/upstreams';
import type { CircuitBreakers } from './breaker';
import type { Upstream } from './upstream';

export async function routingRoutes(
  app: FastifyInstance,
  opts: { admin: AdminAuthenticator; upstreams: readonly Upstream[]; breakers: CircuitBreakers },
): Promise<void> {
  app.get('/v1/organizations/upstreams', async (req, reply): Promise<UpstreamsList> => {
    await opts.admin.authenticate(req, 'read');
    reply.header('request-id', req.id);
    const byName = new Map(opts.breakers.snapshot().map((s) => [s.upstream, s]));
    return {
      data: opts.upstreams.map((u) => {
        const s = byName.get(u.name);
        return {
          name: u.name,
          provider: u.provider,
          circuit: {
            state: s?.state ?? 'closed',
            consecutive_failures: s?.consecutiveFailures ?? 0,
            opened_at: s?.openedAt !== undefined ? new Date(s.openedAt).toISOString() : null,
          },
        };
      }),
    };
  });
}

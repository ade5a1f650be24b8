/**
 * GET /api/oauth/usage (gateway-protocol.md §2.10): the caller's own standing. Bearer-authenticated;
 * never cached by intermediaries.
 */
import type { FastifyInstance } from 'fastify';
import type { BearerAuthenticator } from '../../auth/bearer';
import type { usageBody } from '../standing';

/** The caller's standing, supplied by spend/feature.ts (declared here so admin routes never import the feature). */
export interface SpendStanding {
  usage(sub: string, groups: readonly string[]): Promise<ReturnType<typeof usageBody>>;
}

export async function usageRoute(app: FastifyInstance, opts: { auth: BearerAuthenticator; standing: SpendStanding }): Promise<void> {
  app.get('/api/oauth/usage', async (req, reply) => {
    const auth = req.headers.authorization;
    const principal = opts.auth.authenticate(Array.isArray(auth) ? auth[0] : auth);
    const body = await opts.standing.usage(principal.sub, principal.groups);
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(body);
  });
}

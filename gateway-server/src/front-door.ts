/**
 * What answers on the gateway's socket until the store is reachable and migrated (issue 15):
 * /healthz 200 (the process is alive: nothing to restart), /readyz 503, and every other route a
 * 503 in its protocol's shape (OAuth endpoints: RFC 6749 `temporarily_unavailable`; the rest:
 * the Anthropic envelope, STORE_UNREACHABLE), so agents retry and people read what to do.
 * Built with the app's own server options (app.ts fastifyOptions) on the same socket.
 */
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import type { Config } from './config/load';
import { fastifyOptions } from './app';
import { GatewayError, OAuthError, renderAnthropicError, renderOAuthError } from './errors';

const RETRY_AFTER = '5';

/** Routes that speak OAuth (RFC 6749 error bodies) rather than the Anthropic envelope. */
export function isOAuthPath(url: string): boolean {
  const path = url.split('?')[0]!;
  return path.startsWith('/oauth/') || path === '/device' || path === '/device/deny' || path.startsWith('/.well-known/');
}

/** The reply for a request the store is needed for and cannot be reached. */
export function storeUnreachableReply(url: string, requestId: string): { status: number; headers: Record<string, string>; body: unknown } {
  if (isOAuthPath(url)) {
    const r = renderOAuthError(
      new OAuthError('temporarily_unavailable', 503, "the gateway cannot reach its database right now, so sign-in and refresh are paused: retry in a few seconds (your current session keeps working until it expires)", {
        'retry-after': RETRY_AFTER,
      }),
    );
    return r;
  }
  const r = renderAnthropicError(new GatewayError('STORE_UNREACHABLE', undefined, { headers: { 'retry-after': RETRY_AFTER } }), requestId);
  return r;
}

export async function buildFrontDoor(
  config: Config,
  serverFactory: FastifyHttpOptions<Server>['serverFactory'],
  why: () => string,
): Promise<FastifyInstance> {
  const app = Fastify({ ...fastifyOptions(config, false), serverFactory });
  // Bodies are never read: every route but the probes answers 503 at once.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  const refuse = (req: FastifyRequest, reply: FastifyReply) => {
    const r = storeUnreachableReply(req.url, req.id);
    return reply.code(r.status).headers(r.headers).header('x-request-id', req.id).send(r.body);
  };
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, reply) => reply.code(503).type('text/plain').header('retry-after', RETRY_AFTER).send(`not ready: ${why()}`));
  app.setNotFoundHandler(refuse);
  app.setErrorHandler((_err, req, reply) => refuse(req, reply));
  await app.ready();
  return app;
}

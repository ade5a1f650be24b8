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
import { RETRY_AFTER, storeUnreachableReply } from './edge/store-unreachable';

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

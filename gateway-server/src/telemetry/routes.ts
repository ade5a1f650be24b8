/**
 * POST /v1/metrics, /v1/logs, /v1/traces: bearer-authenticated OTLP/HTTP intake (protobuf or
 * JSON, optionally gzip). The body is kept as raw bytes, handed to the relay, and answered 200
 * with an empty body at once, relayed or not: a 404 or an error would make Claude Code's exporter
 * log an error on every flush.
 */
import type { FastifyInstance } from 'fastify';
import type { BearerAuthenticator } from '../auth/bearer';
import type { OtlpRelay, Signal } from './relay';

export interface RelayRouteOptions {
  auth: BearerAuthenticator;
  relay: OtlpRelay;
  maxRequestBytes: number;
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export async function relayRoutes(app: FastifyInstance, opts: RelayRouteOptions): Promise<void> {
  const { auth, relay } = opts;
  // Encapsulated: raw bytes for every content type, only in this scope.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxRequestBytes }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (req) => {
    auth.authenticate(header(req.headers.authorization));
  });
  for (const signal of ['metrics', 'logs', 'traces'] as Signal[]) {
    app.post(`/v1/${signal}`, async (req, reply) => {
      const body = req.body as Buffer | undefined;
      if (body && body.length > 0 && relay.wants(signal)) {
        relay.relay(signal, body, header(req.headers['content-type']), header(req.headers['content-encoding']));
      }
      return reply.code(200).send();
    });
  }
}

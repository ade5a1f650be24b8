/**
 * The Fastify server options every listener of the gateway uses (the app itself and any front
 * door built in front of it): limits, client timeouts and the edge error handlers. One function,
 * so a second server cannot drift from the first.
 */
import type { FastifyServerOptions } from 'fastify';
import type { ServerOptions } from 'node:http';
import type { Config } from '../config/load';
import { checkingIntervalMs } from './client-timeouts';
import { clientErrorHandler, frameworkErrors } from './error-handler';

/** Node's own http.createServer options, passed through by Fastify (typed there only per server kind). */
export type EdgeServerOptions = FastifyServerOptions & { http: ServerOptions };

export function edgeServerOptions(config: Config): EdgeServerOptions {
  const t = config.timeouts;
  return {
    bodyLimit: config.limits.max_request_bytes,
    routerOptions: { maxParamLength: 500 },
    http: {
      maxHeaderSize: config.limits.max_request_header_bytes,
      headersTimeout: t.client_headers_ms,
      connectionsCheckingInterval: checkingIntervalMs(t),
    },
    requestTimeout: t.client_request_ms,
    keepAliveTimeout: t.keep_alive_ms,
    // The socket inactivity timer is armed per request by the body guard (client-timeouts.ts).
    connectionTimeout: 0,
    clientErrorHandler,
    frameworkErrors,
    // X-Forwarded-For is believed only from configured proxies, so per-IP limits see real clients.
    trustProxy: config.listen.trusted_proxies.length ? [...config.listen.trusted_proxies] : false,
    return503OnClosing: false,
  };
}

/**
 * Slow clients cannot hold the gateway. Node enforces the header deadline (headersTimeout), the
 * whole-request deadline (requestTimeout) and keep-alive idleness; what it lacks is an idle limit
 * on an upload: a client that sends `Content-Length: 1000`, 100 bytes and then nothing would hold
 * its socket until the request deadline. The body guard arms the socket's inactivity timer only
 * while the body is being received (never while an upstream thinks, nor while a reply streams)
 * and answers 408 REQUEST_TIMEOUT in the route's shape, then closes the connection.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import { renderError, routeFamily } from './render';

export interface ClientTimeouts {
  client_headers_ms: number;
  client_body_idle_ms: number;
  client_request_ms: number;
  keep_alive_ms: number;
}

export const CLIENT_TIMEOUT_DEFAULTS: ClientTimeouts = {
  client_headers_ms: 10_000,
  client_body_idle_ms: 10_000,
  client_request_ms: 300_000,
  keep_alive_ms: 10_000,
};

/** How often Node checks header and request deadlines: a fraction of the shortest one, at most 1 s. */
export function checkingIntervalMs(t: ClientTimeouts): number {
  return Math.max(50, Math.min(1000, Math.floor(Math.min(t.client_headers_ms, t.client_request_ms) / 4)));
}

function expectsBody(req: FastifyRequest): boolean {
  const h = req.raw.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

/** onRequest: arm the upload idle timer for a request that carries a body. */
export function guardBodyIdle(req: FastifyRequest, reply: FastifyReply, idleMs: number): void {
  const raw = req.raw;
  if (!expectsBody(req) || raw.complete) return;
  const socket = raw.socket;
  // In-process requests (app.inject: the console's Admin API calls) have no network socket to stall.
  if (typeof socket?.setTimeout !== 'function') return;
  const disarm = () => {
    socket.setTimeout(0);
    raw.off('timeout', onIdle);
    raw.off('end', disarm);
    reply.raw.off('close', disarm);
  };
  function onIdle(): void {
    disarm();
    if (reply.raw.headersSent || !socket.writable) return void socket.destroy();
    reply.hijack();
    const r = renderError(
      new GatewayError('REQUEST_TIMEOUT', `the request body stalled for ${Math.round(idleMs / 1000)} s: send it without pausing (timeouts.client_body_idle_ms)`),
      routeFamily(req.url),
      req.id,
    );
    reply.raw.writeHead(r.status, { ...r.headers, connection: 'close', 'content-length': String(Buffer.byteLength(r.body)) });
    reply.raw.end(r.body, () => socket.destroy());
  }
  socket.setTimeout(idleMs);
  // Node re-emits the socket's timeout on the incomplete request; a listener there keeps Node
  // from destroying the socket before the 408 is written.
  raw.on('timeout', onIdle);
  raw.once('end', disarm);
  reply.raw.once('close', disarm);
}

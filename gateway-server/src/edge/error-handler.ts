/**
 * One place where every error becomes an answer in the route's protocol shape: our own
 * GatewayError/OAuthError, Fastify's (parser errors, 413, 415, bad URLs, validation), and Node's
 * HTTP parser errors that never reach a route (malformed request lines, 431, 408). Messages
 * never echo the request's path: a 10 KB URL stays on the client's side.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError, OAuthError } from '../errors';
import { renderError, routeFamily, type RenderedError } from './render';
import { isStoreUnreachableError } from '../store/health';
import { storeUnreachableReply } from './store-unreachable';

type AnyError = Partial<FastifyError> & { validation?: unknown; name?: string };

/** A Fastify or Node error as one of ours; anything unknown is INTERNAL (and logged by the caller). */
export function fromFrameworkError(err: AnyError): GatewayError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('BODY_TOO_LARGE', 'request body is larger than this endpoint accepts: send only the documented fields');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('INVALID_REQUEST', 'unsupported Content-Type: send application/json', { status: 415 });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('INVALID_REQUEST', 'Content-Length does not match the body sent');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError('INVALID_JSON');
    case 'FST_ERR_BAD_URL':
      return new GatewayError('INVALID_REQUEST', 'the URL is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new GatewayError('URI_TOO_LONG', 'a path segment is longer than the gateway accepts (500 characters)');
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new GatewayError('INVALID_REQUEST', 'the request could not be routed');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('REQUEST_TIMEOUT');
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('HEADER_TOO_LARGE', 'request headers too large (limits.max_request_header_bytes)');
  }
  if (err.validation) return new GatewayError('INVALID_REQUEST', 'the request does not match the expected shape');
  if (err.name === 'SyntaxError' && err.statusCode === 400) return new GatewayError('INVALID_JSON');
  if (typeof err.code === 'string' && err.code.startsWith('HPE_')) return new GatewayError('MALFORMED_HTTP');
  const status = err.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // A client error from a plugin: keep the status, never its message (it may echo input).
    return new GatewayError('INVALID_REQUEST', `${STATUS_CODES[status] ?? 'invalid request'}`.toLowerCase(), { status });
  }
  return undefined;
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: GatewayError | OAuthError): FastifyReply {
  // As the official gateway: plain text (gateway-protocol.md).
  if (err instanceof GatewayError && err.code === 'LENGTH_REQUIRED') {
    return reply.code(411).header('content-type', 'text/plain; charset=utf-8').send('length required');
  }
  const r = renderError(err, routeFamily(req.url), req.id);
  if (err instanceof GatewayError && err.status === 408) r.headers.connection = 'close';
  return reply.code(r.status).headers(r.headers).send(r.body);
}

/** Fastify's setErrorHandler. */
export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof OAuthError || err instanceof GatewayError) return sendError(req, reply, err);
  const mapped = fromFrameworkError(err as AnyError);
  if (mapped) return sendError(req, reply, mapped);
  if (isStoreUnreachableError(err)) {
    // The store went away mid-request (sign-in, refresh, admin): a 503 saying so, in the route's shape.
    const r = storeUnreachableReply(req.url, req.id);
    return reply.code(r.status).headers(r.headers).send(r.body);
  }
  req.log.error({ err, requestId: req.id }, 'unhandled error');
  return sendError(req, reply, new GatewayError('INTERNAL'));
}

/** Fastify's frameworkErrors: bad percent-encoding, over-long path parameters. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  void errorHandler(err, req, reply);
}

/** The request line of a packet the HTTP parser refused, if one can be read, for its route family. */
function targetOf(raw: unknown): string | undefined {
  if (!Buffer.isBuffer(raw)) return undefined;
  const line = raw.subarray(0, 256).toString('latin1').split('\r\n', 1)[0] ?? '';
  return line.split(' ')[1];
}

export function rawResponse(status: number, r: RenderedError): string {
  const headers = { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)), connection: 'close' };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${lines}\r\n${r.body}`;
}

/**
 * Node's clientError (Fastify's clientErrorHandler): the request never became a request, so the
 * answer is written on the socket itself, in the envelope of the route the packet named.
 */
export function clientErrorHandler(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const gwErr = fromFrameworkError(err) ?? new GatewayError('MALFORMED_HTTP');
  // A response already under way (e.g. a request timeout while a reply streams) cannot get a second one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const r = renderError(gwErr, routeFamily(targetOf(err.rawPacket)));
    socket.write(rawResponse(r.status, r));
  }
  socket.destroy();
}

/**
 * `Expect:` other than 100-continue: Node answers a bare 417; ours names the fix. The request
 * is refused before routing, so the route family comes from its URL.
 */
export function installExpectationHandler(app: { server: import('node:http').Server }): void {
  app.server.on('checkExpectation', (req, res) => {
    const r = renderError(new GatewayError('EXPECTATION_FAILED'), routeFamily(req.url));
    res.writeHead(r.status, { ...r.headers, connection: 'close', 'content-length': String(Buffer.byteLength(r.body)) });
    res.end(r.body);
  });
}

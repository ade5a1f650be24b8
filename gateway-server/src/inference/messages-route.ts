/**
 * POST /v1/messages and /v1/messages/count_tokens. Checks run in the protocol's order
 * (bearer, Content-Length, size, JSON, model, allow-list, spend), then the upstream reply is
 * relayed on the raw socket. Streams: status and headers as soon as the upstream answers, then
 * every chunk as it arrives, never buffered. Non-streaming replies (one JSON document the
 * upstream sends when complete) leave in a single write. Nothing is re-serialised.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { GatewayError, renderAnthropicError } from '../errors';
import type { Principal } from '../auth/session-token';
import type { BearerAuthenticator } from '../auth/bearer';
import { routeWithFailover, type RouteObserver } from '../routing/failover';
import { forwardableHeaders, isUpstreamIdleTimeout, type UpstreamOperation } from '../routing/upstream';
import type { Admission, InferenceEvent, InferenceHooks, InferenceOutcome } from './hooks';
import { emptyUsage, UsageTap } from './usage-tap';
import { scanJson } from '../edge/json-scan';
import { promptCounter } from '../spend/prompt-count';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    rawBody?: Buffer;
    /** Set when the handler runs; until then the request's audit row is not yet anyone's job. */
    inferenceStarted?: boolean;
  }
}

export interface MessagesRouteOptions {
  auth: BearerAuthenticator;
  hooks: InferenceHooks;
  maxRequestBytes: number;
  routeObserver?: RouteObserver;
  now: () => number;
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function clientSurface(req: FastifyRequest): string | undefined {
  const ua = headerString(req.headers['user-agent']);
  if (!ua) return undefined;
  const m = /^([A-Za-z0-9._-]+)\//.exec(ua);
  return m ? m[1] : undefined;
}

export async function messagesRoutes(app: FastifyInstance, opts: MessagesRouteOptions): Promise<void> {
  const { auth, hooks, maxRequestBytes, now } = opts;

  // Bodies stay raw: the anthropic upstream receives the client's bytes unchanged.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxRequestBytes }, (_req, body, done) => done(null, body));

  // Authentication and length checks happen before a single body byte is read.
  app.addHook('onRequest', async (req, reply) => {
    try {
      req.principal = auth.authenticate(headerString(req.headers.authorization));
    } catch (err) {
      // Refused credentials are part of the audit trail too (no principal, no token).
      if (err instanceof GatewayError) {
        await notify({
          requestId: req.id,
          at: new Date(now()),
          operation: req.url.startsWith('/v1/messages/count_tokens') ? 'count_tokens' : 'messages',
          status: err.status,
          outcome: 'denied_auth',
          reason: err.code,
          latencyMs: 0,
          stream: false,
          clientSurface: clientSurface(req),
          clientSessionId: headerString(req.headers['x-claude-code-session-id']),
        });
      }
      throw err;
    }
    recordIfNeverHandled(req, reply);
    const len = req.headers['content-length'];
    if (len === undefined) {
      if (req.headers['transfer-encoding'] !== undefined) throw new GatewayError('LENGTH_REQUIRED');
    } else if (Number(len) > maxRequestBytes) {
      throw new GatewayError('BODY_TOO_LARGE');
    }
  });

  /**
   * A request refused before its handler ran (411/413 on its headers, a stalled upload answered 408, a body
   * that does not match its Content-Length, a client that hung up mid-upload) never reaches the
   * handler; its audit row is written when the response closes.
   */
  function recordIfNeverHandled(req: FastifyRequest, reply: FastifyReply): void {
    const started = now();
    reply.raw.once('close', () => {
      if (req.inferenceStarted) return;
      const res = reply.raw;
      const status = res.headersSent ? res.statusCode : 499;
      void notify({
        requestId: req.id,
        at: new Date(started),
        principal: req.principal,
        operation: req.url.startsWith('/v1/messages/count_tokens') ? 'count_tokens' : 'messages',
        status,
        outcome: status === 499 ? 'client_aborted' : 'invalid_request',
        reason: status === 408 ? 'REQUEST_TIMEOUT' : status === 499 ? 'client_closed_during_upload' : `http_${status}`,
        latencyMs: now() - started,
        stream: false,
        clientSurface: clientSurface(req),
        clientSessionId: headerString(req.headers['x-claude-code-session-id']),
      });
    });
  }

  const handler = (operation: UpstreamOperation) => async (req: FastifyRequest, reply: FastifyReply) => {
    await handleInference(operation, req, reply);
  };
  app.post('/v1/messages', handler('messages'));
  app.post('/v1/messages/count_tokens', handler('count_tokens'));

  async function notify(event: InferenceEvent): Promise<void> {
    for (const o of hooks.observers) {
      try {
        await o.onInference(event);
      } catch (err) {
        app.log.error({ err, requestId: event.requestId }, 'inference observer failed');
      }
    }
  }

  async function handleInference(operation: UpstreamOperation, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    req.inferenceStarted = true;
    const started = now();
    const principal = req.principal!;
    const requestId = req.id;
    const event: InferenceEvent = {
      requestId,
      at: new Date(started),
      principal,
      operation,
      status: 0,
      outcome: 'ok',
      latencyMs: 0,
      stream: false,
      clientSurface: clientSurface(req),
      clientSessionId: headerString(req.headers['x-claude-code-session-id']),
    };
    const fail = async (err: GatewayError, outcome: InferenceOutcome) => {
      event.status = err.status;
      event.outcome = outcome;
      event.reason = err.code;
      event.latencyMs = now() - started;
      await notify(event);
      throw err;
    };

    const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const scan = scanJson(raw);
    if (!scan.ok && scan.problem === 'too_deep') return fail(new GatewayError('JSON_TOO_DEEP'), 'invalid_request');
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fail(new GatewayError('INVALID_JSON'), 'invalid_request');
    }
    if (!scan.ok && scan.problem === 'duplicate_key') {
      return fail(new GatewayError('JSON_DUPLICATE_KEY', `the request body has more than one "${scan.key.slice(0, 64)}" key: send each top-level key once`), 'invalid_request');
    }
    const model = body.model;
    if (model === undefined || model === null || model === '') return fail(new GatewayError('MODEL_REQUIRED'), 'invalid_request');
    if (typeof model !== 'string') return fail(new GatewayError('MODEL_NOT_STRING'), 'invalid_request');
    event.model = model;
    const stream = operation === 'messages' && body.stream === true;
    event.stream = stream;

    let candidates;
    try {
      candidates = hooks.access.resolve(principal, model, operation);
    } catch (err) {
      if (err instanceof GatewayError) return fail(err, 'denied_policy');
      throw err;
    }

    let admission: Admission | undefined;
    if (operation === 'messages') {
      try {
        const countPromptTokens = promptCounter(candidates, { url: req.url, headers: forwardableHeaders(req.headers), body, model, principal, requestId });
        admission = await hooks.spend.admit({ principal, model, body, rawBodyBytes: raw.length, rawBody: raw, requestId, countPromptTokens });
      } catch (err) {
        if (err instanceof GatewayError) return fail(err, 'blocked_spend');
        throw err;
      }
    }

    const controller = new AbortController();
    const res = reply.raw;
    let clientGone = false;
    const onClose = () => {
      if (!res.writableFinished) {
        clientGone = true;
        controller.abort();
      }
    };
    res.on('close', onClose);

    /** Waits for the charge to be stored; called after the observers so audit and spend share one write. */
    const committed = async () => {
      try {
        await admission?.committed?.();
      } catch (err) {
        app.log.error({ err, requestId }, 'spend settlement failed');
      }
    };
    const settle = async (tap: UsageTap | undefined, status: number, upstream?: string, upstreamModel?: string) => {
      const usage = tap?.finish();
      event.usage = usage;
      if (admission) {
        try {
          event.costMicros = await admission.settle({
            usage: usage ?? emptyUsage(),
            upstream,
            upstreamModel,
            aborted: !!tap && !tap.sawMessageStop,
            outputChars: tap?.outputChars ?? 0,
            status,
          });
        } catch (err) {
          app.log.error({ err, requestId }, 'spend settlement failed');
        }
      }
    };

    let result;
    try {
      result = await routeWithFailover(
        candidates,
        {
          operation,
          search: req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '',
          headers: forwardableHeaders(req.headers),
          rawBody: admission?.forward?.rawBody ?? raw,
          body: admission?.forward?.body ?? body,
          model,
          stream,
          signal: controller.signal,
          principal,
          requestId,
        },
        opts.routeObserver,
      );
    } catch (err) {
      res.off('close', onClose);
      await settle(undefined, 0);
      if (clientGone) {
        event.outcome = 'client_aborted';
        event.status = 499;
        event.latencyMs = now() - started;
        await notify(event);
        await committed();
        reply.hijack();
        return;
      }
      void committed();
      if (err instanceof GatewayError) {
        app.log.warn({ requestId, err: err.message, cause: (err.cause as Error | undefined)?.message }, 'all upstreams failed');
        return fail(err, 'upstream_error');
      }
      throw err;
    }

    const { response, upstream, upstreamModel, attempts } = result;
    event.upstream = upstream.name;
    event.upstreamModel = upstreamModel;
    event.attempts = attempts;
    event.status = response.status;
    event.ttfbMs = now() - started;
    const ok = response.status >= 200 && response.status < 300;
    event.outcome = ok ? 'ok' : 'upstream_error';

    reply.hijack();
    const headers: Record<string, string | string[]> = { ...response.headers, 'request-id': requestId, 'x-request-id': requestId };
    if (ok && admission) Object.assign(headers, admission.headers);
    const tap = ok ? new UsageTap(stream) : undefined;
    if (!stream) return relayWhole(response.body, headers, tap);

    res.writeHead(response.status, headers);
    // Headers go out with the first event when the upstream sent both together (one write
    // instead of two, the common case); otherwise on the next loop turn, so the client's
    // time to first byte stays the upstream's.
    let flush: NodeJS.Immediate | undefined = setImmediate(() => {
      flush = undefined;
      if (!res.headersSent && !res.destroyed) res.flushHeaders();
    });
    let cut: GatewayError | undefined;
    try {
      for await (const chunk of response.body) {
        if (flush) flush = void clearImmediate(flush);
        tap?.write(chunk);
        if (!res.write(chunk)) await waitDrain(res);
        if (clientGone) break;
      }
    } catch (err) {
      if (!clientGone) {
        cut = cutError(err, 'upstream connection lost mid-stream');
        app.log.warn({ requestId, upstream: upstream.name, err: (err as Error).message }, 'upstream stream ended abnormally');
      }
    }
    if (flush) clearImmediate(flush);
    res.off('close', onClose);
    // Before the checks below: with `\r` framing the last event is only complete at the end.
    tap?.finish();
    if (clientGone) event.outcome = 'client_aborted';
    else if (!cut && tap?.sawError) {
      // The upstream (e.g. a Bedrock exception frame) ended the stream with an SSE error event.
      event.outcome = 'upstream_cut';
      event.reason = 'upstream_stream_error';
    } else if (cut) {
      // The client already has its 200: the status stays, the row says how the stream ended.
      event.outcome = 'upstream_cut';
      if (cut.code === 'UPSTREAM_IDLE_TIMEOUT') event.reason = cut.code;
      if (ok) {
        // Never a silent truncation: the client gets a proper SSE error event.
        res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: cut.type, message: cut.message } })}\n\n`);
      }
    }
    await settle(tap, response.status, upstream.name, upstreamModel);
    event.latencyMs = now() - started;
    await notify(event);
    await committed();
    if (!clientGone) res.end();
    else res.destroy();

    /**
     * A non-streaming reply is one JSON document the upstream sends only once it is complete,
     * so relaying it whole costs no latency: status, headers and body leave in one write with
     * an exact Content-Length (no chunked framing), and a reply cut short becomes a 502
     * instead of a truncated 200.
     */
    async function relayWhole(body: AsyncIterable<Uint8Array>, headers: Record<string, string | string[]>, tap: UsageTap | undefined) {
      const chunks: Uint8Array[] = [];
      let size = 0;
      let cut: GatewayError | undefined;
      try {
        for await (const chunk of body) {
          tap?.write(chunk);
          chunks.push(chunk);
          size += chunk.length;
          if (clientGone) break;
        }
      } catch (err) {
        if (!clientGone) {
          cut = cutError(err, 'upstream connection lost before the reply was complete');
          app.log.warn({ requestId, upstream: upstream.name, err: (err as Error).message }, 'upstream reply ended abnormally');
        }
      }
      res.off('close', onClose);
      if (clientGone) event.outcome = 'client_aborted';
      else if (cut) {
        // The row records what the client gets (502/504), not the upstream's 200.
        event.outcome = 'upstream_cut';
        event.status = cut.status;
        event.reason = cut.code;
      }
      await settle(tap, response.status, upstream.name, upstreamModel);
      event.latencyMs = now() - started;
      await notify(event);
      await committed();
      if (clientGone) return void res.destroy();
      if (cut) {
        const r = renderAnthropicError(cut, requestId);
        const text = JSON.stringify(r.body);
        res.writeHead(r.status, { ...r.headers, 'request-id': requestId, 'x-request-id': requestId, 'content-length': String(Buffer.byteLength(text)) });
        return void res.end(text);
      }
      headers['content-length'] = String(size);
      res.writeHead(response.status, headers);
      res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    }
  }
}

/** What a reply body that failed after its headers becomes: a 504 when it went silent, else a 502. */
function cutError(err: unknown, lost: string): GatewayError {
  return isUpstreamIdleTimeout(err) ? new GatewayError('UPSTREAM_IDLE_TIMEOUT') : new GatewayError('ALL_UPSTREAMS_FAILED', lost);
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}


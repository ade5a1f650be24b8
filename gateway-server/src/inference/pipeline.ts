/**
 * The inference pipeline, one per API family (family.ts), in the protocol's order:
 * authenticate (bearer and Content-Length, before a body byte is read) → parse (size, JSON,
 * model) → policy (which upstreams may serve the model) → spend admission → route (ordered
 * failover) → relay with usage tap (relay.ts) → settle + audit. Each family's routes live in
 * their own encapsulated context (raw-body parser, bearer hook).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { Principal } from '../auth/session-token';
import type { BearerAuthenticator } from '../auth/bearer';
import { routeWithFailover, type RouteCandidate, type RouteObserver, type RouteResult } from '../routing/failover';
import type { UpstreamOperation } from '../routing/upstream';
import { promptCounter } from '../spend/prompt-count';
import type { Admission, InferenceEvent, InferenceHooks, InferenceOutcome } from './hooks';
import { emptyUsage, type UsageReader } from './usage-tap';
import { scanJson } from '../edge/json-scan';
import { headerString, type ApiFamily } from './family';
import { relayStream, relayWhole, type Flight } from './relay';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    rawBody?: Buffer;
    /** Set when the handler runs; until then the request's audit row is not yet anyone's job. */
    inferenceStarted?: boolean;
  }
}

export interface InferenceRouteOptions {
  family: ApiFamily;
  auth: BearerAuthenticator;
  hooks: InferenceHooks;
  maxRequestBytes: number;
  routeObserver?: RouteObserver;
  now: () => number;
}

/** Stage `parse`: the body as a JSON object with a string model, or the error to answer. */
export function parseStage(raw: Buffer): { body: Record<string, unknown>; model: string } | GatewayError {
  const scan = scanJson(raw);
  if (!scan.ok && scan.problem === 'too_deep') return new GatewayError('JSON_TOO_DEEP');
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    return new GatewayError('INVALID_JSON');
  }
  if (!scan.ok && scan.problem === 'duplicate_key') {
    return new GatewayError('JSON_DUPLICATE_KEY', `the request body has more than one "${scan.key.slice(0, 64)}" key: send each top-level key once`);
  }
  const model = body.model;
  if (model === undefined || model === null || model === '') return new GatewayError('MODEL_REQUIRED');
  if (typeof model !== 'string') return new GatewayError('MODEL_NOT_STRING');
  return { body, model };
}

export async function inferenceRoutes(app: FastifyInstance, opts: InferenceRouteOptions): Promise<void> {
  const { family, auth, hooks, maxRequestBytes, now } = opts;

  // Bodies stay raw: the upstream receives the client's bytes unchanged.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxRequestBytes }, (_req, body, done) => done(null, body));

  const baseEvent = (req: FastifyRequest, at: number, operation: UpstreamOperation): InferenceEvent => {
    const c = family.client(req.headers);
    return {
      requestId: req.id,
      at: new Date(at),
      principal: req.principal,
      operation,
      status: 0,
      outcome: 'ok',
      latencyMs: 0,
      stream: false,
      clientSurface: c.surface,
      clientSessionId: c.sessionId,
      ...(c.detail ? { clientDetail: c.detail } : {}),
    };
  };

  // Stage `authenticate`: bearer and length checks happen before a single body byte is read.
  app.addHook('onRequest', async (req, reply) => {
    try {
      req.principal = auth.authenticate(headerString(req.headers.authorization));
    } catch (err) {
      // Refused credentials are part of the audit trail too (no principal, no token).
      if (err instanceof GatewayError) {
        await notify({ ...baseEvent(req, now(), family.operationOf(req.url)), status: err.status, outcome: 'denied_auth', reason: err.code });
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
        ...baseEvent(req, started, family.operationOf(req.url)),
        status,
        outcome: status === 499 ? 'client_aborted' : 'invalid_request',
        reason: status === 408 ? 'REQUEST_TIMEOUT' : status === 499 ? 'client_closed_during_upload' : `http_${status}`,
        latencyMs: now() - started,
      });
    });
  }

  for (const r of family.routes) {
    const operation = r.operation;
    app.post(r.path, async (req, reply) => handleInference(operation, req, reply));
  }

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
    const event = baseEvent(req, started, operation);
    const fail = async (err: GatewayError, outcome: InferenceOutcome) => {
      event.status = err.status;
      event.outcome = outcome;
      event.reason = err.code;
      event.latencyMs = now() - started;
      await notify(event);
      throw err;
    };

    const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const parsed = parseStage(raw);
    if (parsed instanceof GatewayError) return fail(parsed, 'invalid_request');
    const { body, model } = parsed;
    event.model = model;
    const stream = family.isStream(operation, body);
    event.stream = stream;

    // Stage `policy`.
    let candidates: RouteCandidate[];
    try {
      candidates = hooks.access.resolve(principal, model, operation);
    } catch (err) {
      if (err instanceof GatewayError) return fail(err, 'denied_policy');
      throw err;
    }

    // Stage `spend admission`.
    let admission: Admission | undefined;
    if (family.charged(operation)) {
      try {
        // Near a cap the gate may ask the upstreams for the prompt's token count (Messages only);
        // built only then, so requests far from a cap do not copy their headers for it.
        const countPromptTokens =
          family.name === 'anthropic'
            ? () => promptCounter(candidates, { url: req.url, headers: family.forwardableHeaders(req.headers), body, model, principal, requestId })()
            : undefined;
        admission = await hooks.spend.admit({ principal, model, body, rawBodyBytes: raw.length, rawBody: raw, requestId, countPromptTokens, family: family.name });
      } catch (err) {
        if (err instanceof GatewayError) return fail(err, 'blocked_spend');
        throw err;
      }
    }

    const controller = new AbortController();
    const res = reply.raw;
    const flight: Flight = {
      family,
      requestId,
      res,
      event,
      clientGone: false,
      onClose: () => {
        if (!res.writableFinished) {
          flight.clientGone = true;
          controller.abort();
        }
      },
      finish: (tap, status, result) => settleAndAudit(flight, admission, started, tap, status, result),
      warn: (detail, message) => app.log.warn(detail, message),
    };
    res.on('close', flight.onClose);

    // Stage `route`.
    const result = await routeStage(flight, req, reply, { candidates, operation, raw, body, model, stream, admission, started, controller, fail });
    if (!result) return;

    // Stage `relay with usage tap` (then settle + audit through flight.finish).
    const { response } = result;
    event.upstream = result.upstream.name;
    event.upstreamModel = result.upstreamModel;
    event.attempts = result.attempts;
    event.status = response.status;
    event.ttfbMs = now() - started;
    const ok = response.status >= 200 && response.status < 300;
    event.outcome = ok ? 'ok' : 'upstream_error';
    reply.hijack();
    const headers: Record<string, string | string[]> = { ...response.headers, 'request-id': requestId, 'x-request-id': requestId };
    if (ok && admission) Object.assign(headers, admission.headers);
    const tap = ok ? family.usageReader(stream) : undefined;
    return stream ? relayStream(flight, result, headers, tap) : relayWhole(flight, result, headers, tap);
  }

  interface RouteInput {
    candidates: RouteCandidate[];
    operation: UpstreamOperation;
    raw: Buffer;
    body: Record<string, unknown>;
    model: string;
    stream: boolean;
    admission: Admission | undefined;
    started: number;
    controller: AbortController;
    fail: (err: GatewayError, outcome: InferenceOutcome) => Promise<never>;
  }

  /** Stage `route`: ordered failover; undefined when the client left first (its row is written). */
  async function routeStage(f: Flight, req: FastifyRequest, reply: FastifyReply, r: RouteInput): Promise<RouteResult | undefined> {
    const { event, requestId, res } = f;
    try {
      return await routeWithFailover(
        r.candidates,
        {
          operation: r.operation,
          search: req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '',
          headers: family.forwardableHeaders(req.headers),
          rawBody: r.admission?.forward?.rawBody ?? r.raw,
          body: r.admission?.forward?.body ?? r.body,
          model: r.model,
          stream: r.stream,
          signal: r.controller.signal,
          principal: req.principal!,
          requestId,
        },
        opts.routeObserver,
      );
    } catch (err) {
      res.off('close', f.onClose);
      await settle(r.admission, event, requestId, undefined, 0);
      if (f.clientGone) {
        event.outcome = 'client_aborted';
        event.status = 499;
        event.latencyMs = now() - r.started;
        await notify(event);
        await committed(r.admission, requestId);
        reply.hijack();
        return undefined;
      }
      void committed(r.admission, requestId);
      if (err instanceof GatewayError) {
        app.log.warn({ requestId, err: err.message, cause: (err.cause as Error | undefined)?.message }, 'all upstreams failed');
        return r.fail(err, 'upstream_error');
      }
      throw err;
    }
  }

  /** Stage `settle + audit`: charge the usage, write the audit row, then wait for the charge to be stored. */
  async function settleAndAudit(f: Flight, admission: Admission | undefined, started: number, tap: UsageReader | undefined, status: number, result?: RouteResult): Promise<void> {
    await settle(admission, f.event, f.requestId, tap, status, result);
    f.event.latencyMs = now() - started;
    await notify(f.event);
    await committed(admission, f.requestId);
  }

  async function settle(admission: Admission | undefined, event: InferenceEvent, requestId: string, tap: UsageReader | undefined, status: number, result?: RouteResult): Promise<void> {
    const usage = tap?.finish();
    event.usage = usage;
    if (!admission) return;
    try {
      event.costMicros = await admission.settle({
        usage: usage ?? emptyUsage(),
        upstream: result?.upstream.name,
        upstreamModel: result?.upstreamModel,
        aborted: !!tap && !tap.sawMessageStop,
        outputChars: tap?.outputChars ?? 0,
        status,
      });
    } catch (err) {
      app.log.error({ err, requestId }, 'spend settlement failed');
    }
  }

  /** Waits for the charge to be stored; called after the observers so audit and spend share one write. */
  async function committed(admission: Admission | undefined, requestId: string): Promise<void> {
    try {
      await admission?.committed?.();
    } catch (err) {
      app.log.error({ err, requestId }, 'spend settlement failed');
    }
  }
}

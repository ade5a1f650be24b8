/**
 * Ordered failover across upstreams, only before the first byte reaches the client.
 * The decision of what fails over is pure (shouldFailOver / pickFinal) and table-tested.
 */
import { GatewayError } from '../errors';
import { UpstreamCredentialError, UpstreamTimeoutError, type Upstream, type UpstreamRequest, type UpstreamResponse } from './upstream';

export interface RouteCandidate {
  upstream: Upstream;
  upstreamModel: string;
}

/** 5xx, 429, 401/403 (our credential), 404 (model not served there), 501 fail over; other 4xx return. */
export function shouldFailOver(status: number): boolean {
  return status >= 500 || status === 429 || status === 401 || status === 403 || status === 404;
}

/** When every upstream failed: the last 429, else 401/403, else 404, else 501; else a 502. */
export function pickFinal<T extends { status: number }>(attempts: T[]): T | undefined {
  const last = (pred: (s: number) => boolean) => [...attempts].reverse().find((a) => pred(a.status));
  return last((s) => s === 429) ?? last((s) => s === 401 || s === 403) ?? last((s) => s === 404) ?? last((s) => s === 501);
}

export interface RouteResult {
  response: UpstreamResponse;
  upstream: Upstream;
  upstreamModel: string;
  attempts: number;
}

export interface RouteObserver {
  /** `status` is absent for transport failures (connect errors, first-byte timeouts). */
  onAttemptFailed?(upstream: Upstream, reason: string, status?: number): void;
  onAttemptSucceeded?(upstream: Upstream): void;
  /** Circuit breaker hook (breaker.ts): false skips the upstream without a network call. */
  allow?(upstream: Upstream): boolean;
}

export async function routeWithFailover(
  candidates: RouteCandidate[],
  base: Omit<UpstreamRequest, 'upstreamModel'>,
  observer: RouteObserver = {},
): Promise<RouteResult> {
  type Attempt = { status: number; response: UpstreamResponse; upstream: Upstream; upstreamModel: string };
  const failed: Attempt[] = [];
  let lastTransportError: unknown;
  let attempted = 0;
  const attempt = async (c: RouteCandidate): Promise<RouteResult | undefined> => {
    attempted++;
    let response: UpstreamResponse;
    try {
      response = await c.upstream.send({ ...base, upstreamModel: c.upstreamModel });
    } catch (err) {
      if (base.signal.aborted) throw err;
      lastTransportError = err;
      observer.onAttemptFailed?.(c.upstream, (err as Error).message);
      return undefined;
    }
    if (!shouldFailOver(response.status)) {
      observer.onAttemptSucceeded?.(c.upstream);
      for (const f of failed) f.response.discard();
      return { response, upstream: c.upstream, upstreamModel: c.upstreamModel, attempts: attempted };
    }
    observer.onAttemptFailed?.(c.upstream, `status ${response.status}`, response.status);
    failed.push({ status: response.status, response, upstream: c.upstream, upstreamModel: c.upstreamModel });
    return undefined;
  };
  // Upstreams whose breaker is open go to the end of the order instead of being dropped: they are
  // tried only when every other candidate failed, so the breaker never turns a failing-but-only
  // upstream into a longer outage.
  const deferred: RouteCandidate[] = [];
  for (const c of candidates) {
    if (base.signal.aborted) break;
    if (observer.allow && !observer.allow(c.upstream)) {
      deferred.push(c);
      continue;
    }
    const done = await attempt(c);
    if (done) return done;
  }
  for (const c of deferred) {
    if (base.signal.aborted) break;
    const done = await attempt(c);
    if (done) return done;
  }
  // A single upstream's error passes through unchanged; across several, the reference's order.
  const chosen = attempted === 1 && failed.length === 1 ? failed[0] : pickFinal(failed);
  for (const f of failed) if (f !== chosen) f.response.discard();
  if (chosen) return { response: chosen.response, upstream: chosen.upstream, upstreamModel: chosen.upstreamModel, attempts: attempted };
  if (attempted === 1 && lastTransportError instanceof UpstreamTimeoutError) {
    throw new GatewayError('UPSTREAM_TIMEOUT', undefined, { cause: lastTransportError });
  }
  if (attempted === 1 && lastTransportError instanceof UpstreamCredentialError) {
    throw new GatewayError('UPSTREAM_CREDENTIAL_UNAVAILABLE', undefined, { cause: lastTransportError });
  }
  throw new GatewayError('ALL_UPSTREAMS_FAILED', `all upstreams failed (${attempted} attempted)`, {
    cause: lastTransportError,
  });
}

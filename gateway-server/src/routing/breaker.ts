/**
 * A circuit breaker per upstream (beyond the official gateway, which retries a dead upstream on
 * every request). Closed: requests flow; after `failureThreshold` consecutive failures it opens
 * and failover moves the upstream to the end of the order (tried only when every other candidate
 * failed; see failover.ts); after `cooldownMs` one request is let
 * through as a probe (half-open): success closes it, failure opens it for another cool-down.
 * Failures are what says the upstream itself is unwell: transport errors, first-byte timeouts,
 * 5xx and 429. Client-caused 4xx and "model not served here" never trip it.
 */
import type { RouteObserver } from './failover';
import type { Upstream } from './upstream';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerSnapshot {
  upstream: string;
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened (ms since epoch), if it is open or half-open. */
  openedAt?: number;
}

export interface BreakerChange {
  upstream: string;
  from: BreakerState;
  to: BreakerState;
  consecutiveFailures: number;
  reason: string;
}

interface Entry {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probeInFlight: boolean;
  probeStartedAt: number;
}

export function tripsBreaker(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 429;
}

export class CircuitBreakers implements RouteObserver {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners: ((c: BreakerChange) => void)[] = [];

  constructor(
    private readonly opts: { failureThreshold: number; cooldownMs: number; now: () => number },
  ) {}

  /** State changes, for the operator log and metrics. */
  onChange(listener: (c: BreakerChange) => void): void {
    this.listeners.push(listener);
  }

  snapshot(): BreakerSnapshot[] {
    return [...this.entries].map(([upstream, e]) => ({
      upstream,
      state: e.state,
      consecutiveFailures: e.failures,
      ...(e.state === 'closed' ? {} : { openedAt: e.openedAt }),
    }));
  }

  state(upstream: string): BreakerState {
    return this.entries.get(upstream)?.state ?? 'closed';
  }

  allow(upstream: Upstream): boolean {
    const e = this.entry(upstream.name);
    if (e.state === 'closed') return true;
    if (e.state === 'open' && this.opts.now() - e.openedAt >= this.opts.cooldownMs) {
      this.move(upstream.name, e, 'half_open', 'cool-down elapsed');
      return this.startProbe(e);
    }
    // Half-open lets exactly one probe through; everyone else skips until it reports. A probe
    // that never reports (its client went away) is replaced after another cool-down.
    if (e.state === 'half_open' && (!e.probeInFlight || this.opts.now() - e.probeStartedAt >= this.opts.cooldownMs)) {
      return this.startProbe(e);
    }
    return false;
  }

  onAttemptSucceeded(upstream: Upstream): void {
    const e = this.entry(upstream.name);
    e.failures = 0;
    e.probeInFlight = false;
    if (e.state !== 'closed') this.move(upstream.name, e, 'closed', 'probe succeeded');
  }

  onAttemptFailed(upstream: Upstream, reason: string, status?: number): void {
    const e = this.entry(upstream.name);
    if (!tripsBreaker(status)) {
      // The upstream answered sensibly: it is healthy, whatever it thought of the request.
      this.onAttemptSucceeded(upstream);
      return;
    }
    e.failures++;
    e.probeInFlight = false;
    if (e.state === 'half_open') {
      e.openedAt = this.opts.now();
      this.move(upstream.name, e, 'open', `probe failed: ${reason}`);
    } else if (e.state === 'closed' && e.failures >= this.opts.failureThreshold) {
      e.openedAt = this.opts.now();
      this.move(upstream.name, e, 'open', `${e.failures} consecutive failures, last: ${reason}`);
    }
  }

  private startProbe(e: Entry): boolean {
    e.probeInFlight = true;
    e.probeStartedAt = this.opts.now();
    return true;
  }

  private entry(name: string): Entry {
    let e = this.entries.get(name);
    if (!e) {
      e = { state: 'closed', failures: 0, openedAt: 0, probeInFlight: false, probeStartedAt: 0 };
      this.entries.set(name, e);
    }
    return e;
  }

  private move(upstream: string, e: Entry, to: BreakerState, reason: string): void {
    const change = { upstream, from: e.state, to, consecutiveFailures: e.failures, reason };
    e.state = to;
    for (const l of this.listeners) l(change);
  }
}

/**
 * The OTLP relay: payloads from clients go verbatim (same bytes, same content-type and
 * content-encoding) to every destination that opted into the signal, in the background.
 *
 * Never buffered to disk and never retried: at most MAX_IN_FLIGHT deliveries run at once and
 * anything beyond is dropped and counted. A destination failing FAILURES_TO_PAUSE times in a
 * row is paused for PAUSE_MS, then tried again with the next payload. "Payload refused"
 * statuses say the destination is up but dislikes this payload, so they never pause it.
 */

export type Signal = 'metrics' | 'logs' | 'traces';

export const MAX_IN_FLIGHT = 128;
export const DESTINATION_TIMEOUT_MS = 10_000;
export const FAILURES_TO_PAUSE = 5;
export const PAUSE_MS = 30_000;
export const REFUSED_STATUSES: ReadonlySet<number> = new Set([400, 413, 415, 422, 431]);

export interface RelayDestination {
  url: string;
  headers: Readonly<Record<string, string>>;
  metrics: boolean;
  logs: boolean;
  traces: boolean;
}

export interface DestinationStats {
  url: string;
  delivered: number;
  failed: number;
  refused: number;
  /** Payloads not sent because the destination was paused. */
  skippedWhilePaused: number;
  consecutiveFailures: number;
  pausedUntil: number;
}

export interface RelayStats {
  accepted: number;
  /** Deliveries dropped because MAX_IN_FLIGHT were already running. */
  overflow: number;
  inFlight: number;
  destinations: DestinationStats[];
}

export interface RelayLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface RelayOptions {
  fetch: typeof fetch;
  now: () => number;
  log: RelayLog;
  maxInFlight?: number;
  timeoutMs?: number;
  pauseMs?: number;
}

interface Destination extends DestinationStats {
  base: string;
  config: RelayDestination;
}

/** `<base>/v1/<signal>`, as OTLP/HTTP exporters derive signal URLs from an endpoint. */
export function signalUrl(base: string, signal: Signal): string {
  return `${base.replace(/\/+$/, '')}/v1/${signal}`;
}

export class OtlpRelay {
  private readonly destinations: Destination[];
  private inFlight = 0;
  private accepted = 0;
  private overflow = 0;
  private lastOverflowLog = 0;
  private readonly running = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly pauseMs: number;

  constructor(destinations: readonly RelayDestination[], private readonly opts: RelayOptions) {
    this.destinations = destinations.map((d) => ({
      base: d.url,
      config: d,
      url: d.url,
      delivered: 0,
      failed: 0,
      refused: 0,
      skippedWhilePaused: 0,
      consecutiveFailures: 0,
      pausedUntil: 0,
    }));
    this.maxInFlight = opts.maxInFlight ?? MAX_IN_FLIGHT;
    this.timeoutMs = opts.timeoutMs ?? DESTINATION_TIMEOUT_MS;
    this.pauseMs = opts.pauseMs ?? PAUSE_MS;
  }

  /** True when some destination wants this signal (otherwise the payload is accepted and discarded). */
  wants(signal: Signal): boolean {
    return this.destinations.some((d) => d.config[signal]);
  }

  /** Hand a payload over; returns at once. */
  relay(signal: Signal, body: Buffer, contentType: string | undefined, contentEncoding: string | undefined): void {
    this.accepted++;
    if (this.closing.signal.aborted) return;
    const now = this.opts.now();
    for (const d of this.destinations) {
      if (!d.config[signal]) continue;
      if (d.pausedUntil > now) {
        d.skippedWhilePaused++;
        continue;
      }
      if (this.inFlight >= this.maxInFlight) {
        this.overflow++;
        // One line per 10 s at most: a flood of drops must not become a flood of log lines.
        if (now - this.lastOverflowLog >= 10_000) {
          this.lastOverflowLog = now;
          this.opts.log.warn({ evt: 'telemetry.overflow', dropped_total: this.overflow, in_flight: this.inFlight }, 'telemetry relay queue full; payload dropped');
        }
        continue;
      }
      this.inFlight++;
      const p = this.deliver(d, signal, body, contentType, contentEncoding).finally(() => {
        this.inFlight--;
        this.running.delete(p);
      });
      this.running.add(p);
    }
  }

  private async deliver(d: Destination, signal: Signal, body: Buffer, contentType?: string, contentEncoding?: string): Promise<void> {
    const headers: Record<string, string> = { ...d.config.headers, 'content-type': contentType ?? 'application/x-protobuf' };
    if (contentEncoding) headers['content-encoding'] = contentEncoding;
    let status = 0;
    let error: string | undefined;
    try {
      const res = await this.opts.fetch(signalUrl(d.base, signal), {
        method: 'POST',
        headers,
        body: body as unknown as BodyInit,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.closing.signal]),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (err as Error).message;
    }
    if (status >= 200 && status < 300) {
      d.delivered++;
      d.consecutiveFailures = 0;
      d.pausedUntil = 0;
      return;
    }
    if (REFUSED_STATUSES.has(status)) {
      d.refused++;
      this.opts.log.warn({ evt: 'telemetry.refused', destination: d.url, signal, status }, 'telemetry destination refused a payload');
      return;
    }
    d.failed++;
    d.consecutiveFailures++;
    if (d.consecutiveFailures >= FAILURES_TO_PAUSE) {
      d.pausedUntil = this.opts.now() + this.pauseMs;
      this.opts.log.warn(
        { evt: 'telemetry.paused', destination: d.url, signal, status: status || undefined, error, consecutive_failures: d.consecutiveFailures, pause_ms: this.pauseMs },
        'telemetry destination paused after consecutive failures',
      );
    }
  }

  stats(): RelayStats {
    return {
      accepted: this.accepted,
      overflow: this.overflow,
      inFlight: this.inFlight,
      destinations: this.destinations.map(({ base: _b, config: _c, ...s }) => ({ ...s })),
    };
  }

  /** Abort deliveries in flight: nothing is kept for later, so shutdown does not wait on a slow collector. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.settle();
  }

  /** Wait for deliveries in flight (tests). */
  async settle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}

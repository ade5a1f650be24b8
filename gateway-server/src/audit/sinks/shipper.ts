/**
 * One shipper per sink: take the sink's lease, read committed rows after its cursor, deliver
 * them, then move the cursor. A failed delivery keeps the cursor where it was (the backlog stays
 * in the audit table) and retries with exponential back-off and full jitter. Runs on timers,
 * never on the request path: a request's only cost is the row the writer already commits.
 */
import type { Queryable } from '../../store/db';
import type { AuditEntry } from '../../protocol/audit';
import { toEntry } from '../entry';
import { eventBody, type EventSchema } from '../ocsf';
import { SinkCursor, type StreamPosition } from './cursor';

/** A row on its way out: the entry (for a sink's own envelope fields) and its body in the sink's schema. */
export interface ShippedEvent {
  entry: AuditEntry;
  body: unknown;
}

/** The batch with each body rendered once, in the sink's `schema` (the entry itself, or OCSF). */
export function shippedEvents(entries: AuditEntry[], schema?: EventSchema): ShippedEvent[] {
  return entries.map((entry) => ({ entry, body: eventBody(entry, schema) }));
}

/** A destination: resolves once every event is accepted, throws to have the batch retried. */
export interface Destination {
  deliver(events: ShippedEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface ShipperOptions {
  name: string;
  type: string;
  batchSize: number;
  maxBackoffMs: number;
  owner: string;
  /** The sink's event schema: bodies are rendered here, once, so destinations only frame them. */
  schema?: EventSchema;
  /** How often an idle shipper looks for new rows. */
  pollMs?: number;
  leaseMs?: number;
  onError?(err: unknown, attempt: number): void;
}

export interface ShipperStatus {
  name: string;
  type: string;
  /** This process holds the sink's lease (ships to it); false: another replica does. */
  shipping: boolean;
  /** Rows committed but not yet delivered (counted up to 100,000), as last measured. */
  lag_rows: number;
  delivered_by_this_process: number;
  consecutive_failures: number;
  last_error: string | null;
  last_delivery_at: string | null;
}

const BASE_BACKOFF_MS = 250;
const LAG_CAP = 100_000;

export class SinkShipper {
  private readonly cursor: SinkCursor;
  private position?: StreamPosition;
  private leaseRenewAt = 0;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private wake?: () => void;
  readonly status: ShipperStatus;

  constructor(
    db: Queryable,
    private readonly dest: Destination,
    private readonly opts: ShipperOptions,
  ) {
    this.cursor = new SinkCursor(db, opts.name, opts.owner);
    this.status = { name: opts.name, type: opts.type, shipping: false, lag_rows: 0, delivered_by_this_process: 0, consecutive_failures: 0, last_error: null, last_delivery_at: null };
  }

  start(): void {
    this.running = this.loop();
  }

  /** Look for rows now instead of at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    if (this.status.shipping) await this.cursor.release().catch(() => {});
    await this.dest.close().catch(() => {});
  }

  private get leaseMs(): number {
    return this.opts.leaseMs ?? 15_000;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let waitMs = this.opts.pollMs ?? 500;
      try {
        const more = await this.pass();
        if (more) waitMs = 0;
        this.status.consecutive_failures = 0;
      } catch (err) {
        const attempt = ++this.status.consecutive_failures;
        this.status.last_error = (err as Error).message ?? String(err);
        this.opts.onError?.(err, attempt);
        // Full jitter: replicas and sinks that failed together do not retry in step.
        const ceiling = Math.min(this.opts.maxBackoffMs, BASE_BACKOFF_MS * 2 ** Math.min(attempt, 20));
        waitMs = Math.max(BASE_BACKOFF_MS, Math.random() * ceiling);
        if (this.position) this.status.lag_rows = await this.cursor.backlog(this.position, LAG_CAP).catch(() => this.status.lag_rows);
      }
      // Another replica ships: look again a few times per lease, not every poll (each look writes).
      if (!this.status.shipping) waitMs = Math.max(waitMs, this.leaseMs / 3);
      if (waitMs > 0 && !this.stopped) await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        this.wake = undefined;
        resolve();
      };
      this.timer = setTimeout(() => this.wake?.(), ms);
      this.timer.unref();
    });
  }

  /** One read-deliver-advance round; true when a full batch went (more may be waiting). */
  private async pass(): Promise<boolean> {
    const now = Date.now();
    if (!this.position || now >= this.leaseRenewAt) {
      const pos = await this.cursor.lease(this.leaseMs);
      this.status.shipping = pos !== undefined;
      // Re-read the stored cursor on every renewal: another replica may have shipped meanwhile.
      this.position = pos;
      this.leaseRenewAt = now + this.leaseMs / 3;
      if (!pos) return false;
    }
    const rows = await this.cursor.read(this.position!, this.opts.batchSize);
    if (rows.length === 0) {
      this.status.lag_rows = 0;
      return false;
    }
    await this.dest.deliver(shippedEvents(rows.map((r) => toEntry(r.raw)), this.opts.schema));
    const last = rows[rows.length - 1]!;
    const to = { txid: last.txid, id: String(last.raw.id) };
    const kept = await this.cursor.advance(to, rows.length, this.leaseMs);
    this.status.delivered_by_this_process += rows.length;
    this.status.last_delivery_at = new Date().toISOString();
    this.status.last_error = null;
    if (!kept) {
      this.status.shipping = false;
      this.position = undefined;
      return false;
    }
    this.position = to;
    this.leaseRenewAt = Date.now() + this.leaseMs / 3;
    const more = rows.length === this.opts.batchSize;
    this.status.lag_rows = more ? Math.max(this.status.lag_rows - rows.length, 1) : 0;
    return more;
  }
}

/**
 * Settlements, group-committed. Items queue in memory and go to PostgreSQL as one call of
 * tollgate_spend_apply per batch. When the audit writer is present they ride in its transaction
 * (one write per request for audit and spend together); otherwise, or if a shared batch fails,
 * the queue writes them itself. Each caller's `committed` promise resolves once its item is
 * stored, and the inference route waits for it before ending the response.
 */
import { sqlLiteral } from '../store/sql-literal';
import type { Queryable } from '../store/db';
import type { WriteSource } from '../store/shared-writes';

interface Common {
  principal: string;
  buckets: readonly string[];
}

/** A per-request reservation settled, or an unreserved charge (soft mode, uncapped caller, fail-open). */
export interface ChargeItem extends Common {
  k: 'charge';
  /** Reservation id (also the ledger id). */
  id: string;
  cost: string;
  /** Charge even if no reservation exists. */
  force: boolean;
  estimated: boolean;
  request_id: string;
  model: string;
  upstream: string | null;
  usage: unknown;
}

/** A request admitted from a lease: its real cost, and the lease's cumulative settled total. */
export interface LeaseItem extends Common {
  k: 'lease';
  lease: string;
  total: string;
  id: string;
  cost: string;
  estimated: boolean;
  request_id: string;
  model: string;
  upstream: string | null;
  usage: unknown;
}

/** Give a lease back: settle its final total and release the rest. */
export interface CloseItem extends Common {
  k: 'close';
  lease: string;
  total: string;
}

export type SettleItem = ChargeItem | LeaseItem | CloseItem;

const MAX_BATCH = 500;

interface Pending {
  item: SettleItem;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class SettleQueue implements WriteSource {
  private pending: Pending[] = [];
  private flushing = false;
  /** Set when a shared writer carries our batches: it is asked to flush instead of us. */
  private kick?: () => void;

  constructor(
    private readonly db: Queryable,
    private readonly now: () => number,
  ) {}

  /** Let a shared writer (the audit writer) carry settlements in its transactions; undefined = write alone again. */
  shareWith(kick: (() => void) | undefined): void {
    this.kick = kick;
    if (!kick && this.pending.length > 0 && !this.flushing) this.flushSafely();
  }

  /** Resolves once the item is committed. */
  settle(item: SettleItem): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.kick) this.kick();
      else if (!this.flushing) this.flushSafely();
    });
    // Handled from birth: the route awaits it only after relaying the reply, and a store outage
    // rejecting it before then must not become an unhandled rejection (issue 15). The caller's
    // await still sees the rejection.
    p.catch(() => {});
    return p;
  }

  private flushSafely(limit = Infinity): void {
    this.flush(limit).catch((err) => {
      for (const b of this.pending.splice(0)) b.reject(err);
    });
  }

  hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** WriteSource: hand the shared writer one statement with our pending items inlined. */
  take(): { sql: string; done(err?: unknown): void } | undefined {
    if (this.pending.length === 0) return undefined;
    const batch = this.pending.splice(0, MAX_BATCH);
    const [items, at] = this.args(batch);
    return {
      sql: `SELECT tollgate_spend_apply(${sqlLiteral(items)}::jsonb, ${sqlLiteral(at)}::timestamptz)`,
      done: (err) => {
        if (!err) {
          for (const b of batch) b.resolve();
          return;
        }
        // The shared transaction failed (perhaps for the other writer's reasons): retry alone.
        this.pending.unshift(...batch);
        if (!this.flushing) this.flushSafely(batch.length);
      },
    };
  }

  /** Write pending items in our own transactions; `limit` = only the first N (a retried shared batch). */
  private async flush(limit = Infinity): Promise<void> {
    this.flushing = true;
    try {
      let left = limit;
      while (this.pending.length > 0 && left > 0) {
        const batch = this.pending.splice(0, Math.min(MAX_BATCH, left));
        left -= batch.length;
        try {
          await this.db.query('SELECT tollgate_spend_apply($1::jsonb, $2::timestamptz)', this.args(batch));
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
      // Items queued meanwhile wait for the shared writer, or for us when there is none.
      if (this.pending.length > 0) {
        if (this.kick) this.kick();
        else this.flushSafely();
      }
    }
  }

  /** tollgate_spend_apply's arguments for `batch`: the items as JSON, and the time. */
  private args(batch: Pending[]): [items: string, at: string] {
    return [JSON.stringify(batch.map((b) => b.item)), new Date(this.now()).toISOString()];
  }

  async drain(): Promise<void> {
    if (this.pending.length > 0 && !this.flushing) this.flushSafely();
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

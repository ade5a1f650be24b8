/**
 * Settlements, group-committed: while one batch is being written, the next ones queue and go in
 * the following single statement. Each caller still awaits its own durable write, so nothing is
 * acknowledged before it is stored; under load many requests share one write.
 */
import type { Queryable } from '../store/db';

export interface SettleItem {
  /** Reservation id (also the ledger id). */
  id: string;
  principal: string;
  buckets: string[];
  cost: string;
  /** Charge even if no reservation exists (soft mode, uncapped callers, fail-open). */
  force: boolean;
  estimated: boolean;
  request_id: string;
  model: string;
  upstream: string | null;
  usage: unknown;
}

const MAX_BATCH = 500;

export class SettleQueue {
  private pending: { item: SettleItem; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly db: Queryable,
    private readonly now: () => number,
  ) {}

  settle(item: SettleItem): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        try {
          await this.db.query('SELECT tollgate_spend_settle($1::jsonb, $2::timestamptz)', [
            JSON.stringify(batch.map((b) => b.item)),
            new Date(this.now()).toISOString(),
          ]);
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async drain(): Promise<void> {
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Every spend limit row, held in memory (the table is small) so resolving a caller's caps costs
 * no round trip. Replicas learn of changes through NOTIFY on `tollgate_spend_limits`, sent after
 * each admin mutation commits; a periodic reload covers a missed notification.
 */
import type { Db, Queryable } from '../store/db';
import type { LimitRow } from './layering';
import type { Period } from './periods';

export const LIMITS_CHANNEL = 'tollgate_spend_limits';

export interface LimitDbRow {
  id: string;
  scope_type: LimitRow['scopeType'];
  scope_id: string;
  period: Period;
  amount_cents: string | null;
  currency: string;
  is_enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export function toLimitRow(r: LimitDbRow): LimitRow {
  return {
    id: r.id,
    scopeType: r.scope_type,
    scopeId: r.scope_id,
    period: r.period,
    amountCents: r.amount_cents === null ? null : BigInt(r.amount_cents),
    isEnabled: r.is_enabled,
  };
}

export async function loadLimits(db: Queryable): Promise<LimitRow[]> {
  const { rows } = await db.query<LimitDbRow>('SELECT * FROM spend_limits');
  return rows.map(toLimitRow);
}

export class LimitCache {
  rows: LimitRow[] = [];
  private unlisten?: () => Promise<void>;
  private timer?: NodeJS.Timeout;
  private generation = 0;
  private loaded = false;

  constructor(
    private readonly db: Db,
    private readonly onError: (err: unknown) => void,
    /** Called after a reload that changed any cap (not on the first load). */
    private readonly onChange: () => void = () => {},
  ) {}

  async start(refreshMs = 30_000): Promise<void> {
    this.unlisten = await this.db.listen(LIMITS_CHANNEL, () => void this.reload());
    await this.reload();
    this.timer = setInterval(() => void this.reload(), refreshMs);
    this.timer.unref();
  }

  async reload(): Promise<void> {
    const gen = ++this.generation;
    try {
      const rows = await loadLimits(this.db);
      // A slower, older reload must not overwrite a newer one.
      if (gen === this.generation) {
        const changed = this.loaded && signature(rows) !== signature(this.rows);
        this.rows = rows;
        this.loaded = true;
        if (changed) this.onChange();
      }
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * This replica's own admin change, applied before the Admin API replies: a cap binds the next
   * request here without waiting for NOTIFY. Reloads already in flight read the table before the
   * change and are discarded; a fresh one converges with changes made elsewhere meanwhile.
   */
  applyLocal(change: { upsert: LimitDbRow } | { deleted: string }): void {
    this.generation++;
    let rows: LimitRow[];
    if ('upsert' in change) {
      const row = toLimitRow(change.upsert);
      rows = this.rows.filter((r) => r.id !== row.id && !(r.scopeType === row.scopeType && r.scopeId === row.scopeId && r.period === row.period));
      rows.push(row);
    } else rows = this.rows.filter((r) => r.id !== change.deleted);
    const changed = signature(rows) !== signature(this.rows);
    this.rows = rows;
    if (changed) this.onChange();
    void this.reload();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
  }
}

function signature(rows: readonly LimitRow[]): string {
  return rows
    .map((r) => `${r.id}|${r.scopeType}|${r.scopeId}|${r.period}|${r.amountCents}|${r.isEnabled}`)
    .sort()
    .join('\n');
}

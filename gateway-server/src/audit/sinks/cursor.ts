/**
 * Each sink's place in the committed audit stream, and the lease that makes one process at a
 * time ship to it (replicas race for the lease; the loser stays idle until it lapses).
 *
 * Stream order is (inserting transaction id, row id), read only below the oldest transaction
 * still running, so the rows a read returns can never be joined later by an earlier row. Rows of
 * one chain are written by one flush at a time, so they appear in sequence order.
 */
import type { Queryable } from '../../store/db';
import { ROW_COLUMNS } from '../record';

export interface StreamPosition {
  txid: string;
  id: string;
}

export interface StreamRow {
  txid: string;
  raw: Record<string, unknown>;
}

const TX = `coalesce(txid, '0'::xid8)`;

export class SinkCursor {
  constructor(
    private readonly db: Queryable,
    readonly sink: string,
    private readonly owner: string,
  ) {}

  /** Take or renew the lease; the cursor when we hold it, undefined when another process does. */
  async lease(ttlMs: number): Promise<StreamPosition | undefined> {
    await this.db.query(`INSERT INTO tollgate_audit_sink (sink) VALUES ($1) ON CONFLICT (sink) DO NOTHING`, [this.sink]);
    const { rows } = await this.db.query<{ txid: string; last_id: string }>(
      `UPDATE tollgate_audit_sink SET owner = $2, lease_until = now() + ($3::int * interval '1 millisecond')
        WHERE sink = $1 AND (owner IS NULL OR owner = $2 OR lease_until < now())
        RETURNING txid::text AS txid, last_id::text AS last_id`,
      [this.sink, this.owner, Math.round(ttlMs)],
    );
    const r = rows[0];
    return r ? { txid: r.txid, id: r.last_id } : undefined;
  }

  /** Let the lease go at once (clean shutdown), so another replica takes over without waiting. */
  async release(): Promise<void> {
    await this.db.query(`UPDATE tollgate_audit_sink SET owner = NULL, lease_until = NULL WHERE sink = $1 AND owner = $2`, [this.sink, this.owner]);
  }

  /** The next committed rows after `from`, in stream order. */
  async read(from: StreamPosition, limit: number): Promise<StreamRow[]> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT ${TX}::text AS stream_txid, id, ${ROW_COLUMNS.join(', ')} FROM audit_log
        WHERE (${TX}, id) > ($1::xid8, $2::bigint) AND ${TX} < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY ${TX}, id LIMIT ${Number(limit)}`,
      [from.txid, from.id],
    );
    return rows.map((raw) => ({ txid: String(raw.stream_txid), raw }));
  }

  /**
   * Move the cursor past delivered rows (renewing the lease). False when the lease was lost
   * meanwhile: the new owner resends from its own cursor, so nothing is lost (at least once).
   */
  async advance(to: StreamPosition, delivered: number, ttlMs: number): Promise<boolean> {
    const res = await this.db.query(
      `UPDATE tollgate_audit_sink SET txid = $3::xid8, last_id = $4::bigint, delivered = delivered + $5,
          lease_until = now() + ($6::int * interval '1 millisecond'), updated_at = now()
        WHERE sink = $1 AND owner = $2`,
      [this.sink, this.owner, to.txid, to.id, delivered, Math.round(ttlMs)],
    );
    return res.rowCount > 0;
  }

  /** Rows waiting for this sink (committed and readable), counted up to `cap`. */
  async backlog(from: StreamPosition, cap: number): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM (SELECT 1 FROM audit_log
        WHERE (${TX}, id) > ($1::xid8, $2::bigint) LIMIT ${Number(cap)}) AS pending`,
      [from.txid, from.id],
    );
    return Number(rows[0]?.n ?? 0);
  }
}

/** Every sink's cursor as stored (for `check` and operators). */
export async function sinkCursors(db: Queryable): Promise<{ sink: string; delivered: string; last_id: string; owner: string | null; updated_at: Date }[]> {
  const { rows } = await db.query<{ sink: string; delivered: string; last_id: string; owner: string | null; updated_at: Date }>(
    `SELECT sink, delivered::text AS delivered, last_id::text AS last_id, owner, updated_at FROM tollgate_audit_sink ORDER BY sink`,
  );
  return rows;
}

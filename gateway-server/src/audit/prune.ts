/**
 * Retention: delete audit rows older than `admin.audit_retention_days`, and in the same
 * transaction write a checkpoint row recording, for every chain that no longer starts at its
 * genesis, the sequence number and hash of its last deleted row. The verifier anchors each
 * such chain on its latest checkpoint, so the remaining log still verifies end to end.
 * A transaction-scoped advisory lock keeps two replicas from pruning at once.
 */
import type { AuditWriter } from './writer';
import { gatewayEventContent } from './record';
import type { CheckpointDetail } from './verify';
import type { Db } from '../store/db';

/** Distinct from the migration lock (6775156). */
export const PRUNE_LOCK_KEY = 6775157;

export interface PruneResult {
  deleted: number;
  /** False when another replica held the lock. */
  ran: boolean;
}

export async function pruneAudit(db: Db, writer: AuditWriter, cutoff: Date, now: Date): Promise<PruneResult> {
  return writer.exclusive(async (place) =>
    db.transaction(async (tx) => {
      const { rows: lock } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [PRUNE_LOCK_KEY]);
      if (!lock[0]?.ok) return { deleted: 0, ran: false };
      const del = await tx.query('DELETE FROM audit_log WHERE at < $1', [cutoff.toISOString()]);
      if (del.rowCount === 0) return { deleted: 0, ran: true };
      // Every chain that no longer starts at sequence 1: anchor on the link its first row points to.
      const { rows } = await tx.query<{ chain: string; seq: string; prev_hash: string }>(
        `SELECT DISTINCT ON (chain) chain, seq, prev_hash FROM audit_log ORDER BY chain, seq`,
      );
      const chains: CheckpointDetail[] = rows
        .filter((r) => String(r.seq) !== '1')
        .map((r) => ({ chain: r.chain, through_seq: String(BigInt(r.seq) - 1n), hash: r.prev_hash }));
      // This process's own chain may have lost every row: the checkpoint it is about to write continues it.
      const head = writer.head();
      if (head.seq > 0 && !rows.some((r) => r.chain === writer.chain)) {
        chains.push({ chain: writer.chain, through_seq: String(head.seq), hash: head.hash });
      }
      // A checkpoint is an ordinary event row, so it is chained and verified like any other.
      const checkpoint = gatewayEventContent({
        name: 'audit.checkpoint',
        at: now,
        actor: 'system:retention',
        outcome: 'ok',
        reason: 'retention',
        detail: { deleted: del.rowCount, before: cutoff.toISOString(), chains },
      });
      await place(tx, [checkpoint]);
      return { deleted: del.rowCount, ran: true };
    }),
  );
}

/**
 * Retention for what the spend feature keeps about people (admin.spend_retention_months,
 * admin.identity_retention_days): ledger rows older than the spend window, counters of periods
 * that ended before it, and the name/e-mail/groups of principals not seen within the identity
 * window. Caps only ever read the current period's counters, so nothing enforced is lost.
 * Every replica runs it; a transaction-scoped advisory lock lets one do the work, and the
 * deletes are idempotent anyway.
 */
import type { Db } from '../store/db';

/** Distinct from the migration lock (6775156) and the audit prune lock (6775157). */
export const SPEND_RETENTION_LOCK_KEY = 6775158;
const DAY_MS = 86_400_000;

export interface RetentionSettings {
  spend_retention_months: number;
  identity_retention_days: number;
}

export interface RetentionResult {
  ran: boolean;
  ledger: number;
  counters: number;
  principals: number;
}

/** The same UTC day and time `months` calendar months earlier, clamped to that month's last day. */
export function monthsBefore(now: Date, months: number): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months, 1, now.getUTCHours(), now.getUTCMinutes(), now.getUTCSeconds()));
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(now.getUTCDate(), lastDay));
  return d;
}

/**
 * A counter's period ended before the cutoff: `d:YYYY-MM-DD` (one day), `w:YYYY-MM-DD` (the
 * week starting then), `m:YYYY-MM` (that month). Open reservations keep a counter.
 */
const OLD_COUNTERS = `
DELETE FROM spend_counters WHERE reserved_micros = 0 AND (
     (bucket ~ '^d:\\d{4}-\\d{2}-\\d{2}$' AND to_date(substr(bucket, 3), 'YYYY-MM-DD') + 1 <= $1::date)
  OR (bucket ~ '^w:\\d{4}-\\d{2}-\\d{2}$' AND to_date(substr(bucket, 3), 'YYYY-MM-DD') + 7 <= $1::date)
  OR (bucket ~ '^m:\\d{4}-\\d{2}$' AND (to_date(substr(bucket, 3) || '-01', 'YYYY-MM-DD') + interval '1 month')::date <= $1::date))`;

export async function pruneSpendRetention(db: Db, settings: RetentionSettings, nowMs: number): Promise<RetentionResult> {
  const now = new Date(nowMs);
  const spendCutoff = monthsBefore(now, settings.spend_retention_months);
  const identityCutoff = new Date(nowMs - settings.identity_retention_days * DAY_MS);
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [SPEND_RETENTION_LOCK_KEY]);
    if (!rows[0]?.ok) return { ran: false, ledger: 0, counters: 0, principals: 0 };
    const ledger = await tx.query('DELETE FROM spend_ledger WHERE at < $1', [spendCutoff.toISOString()]);
    const counters = await tx.query(OLD_COUNTERS, [spendCutoff.toISOString().slice(0, 10)]);
    const principals = await tx.query('DELETE FROM spend_principals WHERE last_seen < $1', [identityCutoff.toISOString()]);
    return { ran: true, ledger: ledger.rowCount ?? 0, counters: counters.rowCount ?? 0, principals: principals.rowCount ?? 0 };
  });
}

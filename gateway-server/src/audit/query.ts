/**
 * Audit log reads shared by the Admin API and the console: one filter builder, and a keyset on
 * (at, id) over the `audit_log_at_id` / `audit_log_sub_at_id` indexes, so a page resumes where
 * the previous one stopped and a streamed export reads each matching row once, in constant
 * memory, however large the set.
 */
import type { Queryable } from '../store/db';
import type { AuditEntry, AuditQuery } from '../protocol/audit';
import { ROW_COLUMNS } from './record';
import { toEntry } from './entry';

export type AuditFilter = Pick<AuditQuery, 'user_id' | 'email' | 'outcome' | 'event' | 'model' | 'upstream' | 'since' | 'until'>;

export function auditWhere(q: AuditFilter, params: unknown[] = []): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const add = (sql: string, v: unknown) => where.push(sql.replace('?', `$${params.push(v)}`));
  if (q.user_id) add('sub = ?', q.user_id);
  if (q.email) add('lower(email) = lower(?)', q.email);
  if (q.outcome) add('outcome = ?', q.outcome);
  if (q.event) add('event = ?', q.event);
  if (q.model) add('model = ?', q.model);
  if (q.upstream) add('upstream = ?', q.upstream);
  if (q.since) add('at >= ?::timestamptz', new Date(q.since).toISOString());
  if (q.until) add('at < ?::timestamptz', new Date(q.until).toISOString());
  return { where, params };
}

/** Where a time-ordered page stopped: the last row's time (ISO, milliseconds) and id. */
export interface AuditCursor {
  at: string;
  id: string;
}

export async function pageByTime(
  db: Queryable,
  q: AuditFilter,
  order: 'asc' | 'desc',
  limit: number,
  after?: AuditCursor,
): Promise<{ rows: AuditEntry[]; next?: AuditCursor }> {
  const { where, params } = auditWhere(q);
  if (after) where.push(`(at, id) ${order === 'asc' ? '>' : '<'} ($${params.push(after.at)}::timestamptz, $${params.push(after.id)}::bigint)`);
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, ${ROW_COLUMNS.join(', ')} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY at ${order}, id ${order} LIMIT ${Number(limit) + 1}`,
    params,
  );
  const entries = rows.slice(0, limit).map(toEntry);
  const last = entries[entries.length - 1];
  return { rows: entries, ...(rows.length > limit && last ? { next: { at: last.at, id: last.id } } : {}) };
}

/** Every matching entry, oldest first, read `pageSize` rows at a time. */
export async function* streamByTime(db: Queryable, q: AuditFilter, pageSize = 1000): AsyncGenerator<AuditEntry> {
  let after: AuditCursor | undefined;
  for (;;) {
    const page = await pageByTime(db, q, 'asc', pageSize, after);
    yield* page.rows;
    if (!page.next) return;
    after = page.next;
  }
}

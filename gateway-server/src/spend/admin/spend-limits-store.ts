/**
 * Spend limit rows and their audit trail. Every mutation writes its before/after audit row in
 * the same transaction, then NOTIFYs replicas to reload their cached limits.
 */
import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../../store/db';
import { LIMITS_CHANNEL, type LimitDbRow } from '../limit-cache';
import type { SpendLimit, SpendScope } from '../../protocol/spend-limits';
import type { Period } from '../periods';

/** Time-ordered, so list pagination by id is creation order. */
export function newLimitId(nowMs: number): string {
  return `spl_${nowMs.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

export function toWire(r: LimitDbRow): SpendLimit {
  const scope: SpendScope =
    r.scope_type === 'organization'
      ? { type: 'organization' }
      : r.scope_type === 'rbac_group'
        ? { type: 'rbac_group', rbac_group_id: r.scope_id }
        : { type: 'user', user_id: r.scope_id };
  return {
    type: 'spend_limit',
    id: r.id,
    scope,
    amount: r.amount_cents,
    currency: 'USD',
    period: r.period,
    is_enabled: r.is_enabled,
    created_at: new Date(r.created_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}

export const scopeId = (s: SpendScope) => (s.type === 'organization' ? '' : s.type === 'rbac_group' ? s.rbac_group_id : s.user_id);

async function audit(tx: Queryable, actor: string, action: string, targetId: string, before: unknown, after: unknown, requestId: string, at: Date) {
  await tx.query('INSERT INTO admin_audit (at, actor, action, target_id, before, after, request_id) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)', [
    at.toISOString(),
    actor,
    action,
    targetId,
    before === null ? null : JSON.stringify(before),
    after === null ? null : JSON.stringify(after),
    requestId,
  ]);
}

/** Audit snapshots are spend limits without their `type` (admin-api-shapes.md). */
function withoutType(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const { type: _type, ...rest } = v as Record<string, unknown>;
  return rest;
}

export class SpendLimitsStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async upsert(input: { scope: SpendScope; amount: string | null; period: Period; isEnabled: boolean }, actor: string, requestId: string) {
    const at = new Date(this.now());
    const result = await this.db.transaction(async (tx) => {
      const { rows: prior } = await tx.query<LimitDbRow>('SELECT * FROM spend_limits WHERE scope_type = $1 AND scope_id = $2 AND period = $3 FOR UPDATE', [
        input.scope.type,
        scopeId(input.scope),
        input.period,
      ]);
      const before = prior[0] ? toWire(prior[0]) : null;
      const { rows } = await tx.query<LimitDbRow>(
        `INSERT INTO spend_limits (id, scope_type, scope_id, period, amount_cents, is_enabled, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5::bigint, $6, $7, $8, $8)
         ON CONFLICT (scope_type, scope_id, period) DO UPDATE
           SET amount_cents = EXCLUDED.amount_cents, is_enabled = EXCLUDED.is_enabled, updated_at = EXCLUDED.updated_at
         RETURNING *`,
        [newLimitId(at.getTime()), input.scope.type, scopeId(input.scope), input.period, input.amount, input.isEnabled, actor, at.toISOString()],
      );
      const after = toWire(rows[0]!);
      await audit(tx, actor, 'spend_limit.upsert', after.id, before, after, requestId, at);
      return { before, after, row: rows[0]! };
    });
    await this.db.notify(LIMITS_CHANNEL, result.after.id).catch(() => {});
    return result;
  }

  /** Subjects of the people seen with this email (or whose subject is this very string). */
  async subjectsFor(email: string): Promise<{ exact: boolean; subs: string[] }> {
    const { rows } = await this.db.query<{ sub: string }>('SELECT sub FROM spend_principals WHERE sub = $1 OR lower(email) = lower($1) ORDER BY sub', [email]);
    const subs = rows.map((r) => r.sub);
    return { exact: subs.includes(email), subs };
  }

  /** Whether anyone was ever seen with this IdP group. */
  async groupSeen(group: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM spend_principals WHERE groups @> $1::jsonb LIMIT 1', [JSON.stringify([group])]);
    return rows.length > 0;
  }

  async get(id: string): Promise<SpendLimit | undefined> {
    const { rows } = await this.db.query<LimitDbRow>('SELECT * FROM spend_limits WHERE id = $1', [id]);
    return rows[0] ? toWire(rows[0]) : undefined;
  }

  async delete(id: string, actor: string, requestId: string): Promise<SpendLimit | undefined> {
    const at = new Date(this.now());
    const before = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<LimitDbRow>('DELETE FROM spend_limits WHERE id = $1 RETURNING *', [id]);
      if (!rows[0]) return undefined;
      const b = toWire(rows[0]);
      await audit(tx, actor, 'spend_limit.delete', id, b, null, requestId, at);
      return b;
    });
    if (before) await this.db.notify(LIMITS_CHANNEL, id).catch(() => {});
    return before;
  }

  async list(q: { limit: number; after_id?: string; before_id?: string; scope_type?: string }) {
    const params: unknown[] = [];
    const where: string[] = [];
    if (q.scope_type) where.push(`scope_type = $${params.push(q.scope_type)}`);
    if (q.after_id) where.push(`id > $${params.push(q.after_id)}`);
    if (q.before_id) where.push(`id < $${params.push(q.before_id)}`);
    // before_id pages backwards: take the nearest rows below it, then restore ascending order.
    const order = q.before_id && !q.after_id ? 'DESC' : 'ASC';
    const sql = `SELECT * FROM spend_limits ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id ${order} LIMIT $${params.push(q.limit + 1)}`;
    const { rows } = await this.db.query<LimitDbRow>(sql, params);
    const has_more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    if (order === 'DESC') page.reverse();
    const data = page.map(toWire);
    return { data, has_more, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
  }

  async audit(q: { limit: number; after_id?: number }) {
    const params: unknown[] = [];
    const where = q.after_id !== undefined ? `WHERE id < $${params.push(q.after_id)}` : '';
    const { rows } = await this.db.query<{ id: string; at: Date; actor: string; action: string; target_id: string; before: unknown; after: unknown; request_id: string }>(
      `SELECT * FROM admin_audit ${where} ORDER BY id DESC LIMIT $${params.push(q.limit + 1)}`,
      params,
    );
    const has_more = rows.length > q.limit;
    const data = rows.slice(0, q.limit).map((r) => ({
      type: 'audit_event' as const,
      // A string, as Anthropic's: clients must not do arithmetic on it.
      id: String(r.id),
      created_at: new Date(r.at).toISOString(),
      actor: r.actor,
      // Anthropic's action names; rows written before they were adopted said create or update.
      action: r.action === 'spend_limit.delete' ? r.action : 'spend_limit.upsert',
      target_id: r.target_id,
      before: withoutType(r.before),
      after: withoutType(r.after),
      // The Admin API takes no reason today; the field is Anthropic's and always present.
      reason: null,
      change: r.before === null ? 'create' : r.after === null ? 'delete' : 'update',
      request_id: r.request_id,
    }));
    return { data, has_more, last_id: data.length ? data[data.length - 1]!.id : null };
  }
}

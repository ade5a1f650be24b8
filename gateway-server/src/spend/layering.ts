/**
 * Which cap applies to a user, per period: the user's own row, else the most (min mode) or least
 * (max mode) restrictive of their groups' rows, else the organization row, else none. Caps are
 * per-seat: a group or organization amount is each member's own allowance, not a shared pool.
 */
import type { Period } from './periods';

export interface LimitRow {
  id: string;
  scopeType: 'organization' | 'rbac_group' | 'user';
  /** user_id, rbac_group_id, or '' for the organization. */
  scopeId: string;
  period: Period;
  /** Whole USD cents; null = unlimited. */
  amountCents: bigint | null;
  isEnabled: boolean;
}

export interface ResolvedCap {
  period: Period;
  /** null = unlimited. */
  amountCents: bigint | null;
  /** The row that decided it, if any. */
  source?: LimitRow;
}

export function resolveCap(rows: readonly LimitRow[], sub: string, groups: readonly string[], period: Period, mode: 'min' | 'max'): ResolvedCap {
  const live = rows.filter((r) => r.isEnabled && r.period === period);
  const user = live.find((r) => r.scopeType === 'user' && r.scopeId === sub);
  if (user) return { period, amountCents: user.amountCents, source: user };
  const mine = new Set(groups);
  const groupRows = live.filter((r) => r.scopeType === 'rbac_group' && mine.has(r.scopeId));
  if (groupRows.length > 0) {
    // null is unlimited: the largest value in max mode, ignored in min mode unless every row is null.
    let pick = groupRows[0]!;
    for (const r of groupRows.slice(1)) {
      const a = pick.amountCents;
      const b = r.amountCents;
      if (mode === 'min') {
        if (a === null || (b !== null && b < a)) pick = r;
      } else if (a !== null && (b === null || b > a)) pick = r;
    }
    return { period, amountCents: pick.amountCents, source: pick };
  }
  const org = live.find((r) => r.scopeType === 'organization');
  if (org) return { period, amountCents: org.amountCents, source: org };
  return { period, amountCents: null };
}

/**
 * Setting a spend limit through the Admin API and waiting until every named gateway enforces it.
 * Replicas learn of a change by NOTIFY; rather than sleep for it, poll each gateway's
 * GET …/spend_limits/effective, which resolves caps from the same in-memory cache the request
 * gate uses, until the new row decides the cap (same id, same amount).
 *
 * The effective view resolves a user's cap, so a user limit is observed on that user and an
 * organization limit on a probe user no other limit names. A group limit cannot be observed
 * this way (a user's groups there come from recorded spend): set it before a user or
 * organization limit, whose wait then covers it, since every reload reads the whole table.
 */
import assert from 'node:assert/strict';
import { waitFor } from './wait';

export type LimitScope = { type: 'user'; user_id: string } | { type: 'organization' } | { type: 'rbac_group'; rbac_group_id: string };
type Period = 'daily' | 'weekly' | 'monthly';

export const ORG_PROBE_USER = 'spend-limit-probe-user';

export interface SpendLimitRequest {
  /** The gateway the POST goes to. */
  via: string;
  /** Every gateway that must enforce the limit before this returns (default: `via` alone). */
  enforcedBy?: string[];
  adminKey: string;
  /** A user's limit (shorthand for scope { type: 'user', user_id }). */
  userId?: string;
  scope?: LimitScope;
  /** Cents, as the Admin API takes them; null is unlimited. */
  amount: string | null;
  period?: Period;
}

export async function setSpendLimit(req: SpendLimitRequest): Promise<{ id: string }> {
  const period = req.period ?? 'daily';
  const scope: LimitScope = req.scope ?? { type: 'user', user_id: req.userId! };
  const r = await fetch(`${req.via}/v1/organizations/spend_limits`, {
    method: 'POST',
    headers: { 'x-api-key': req.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ scope, amount: req.amount, period }),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `setting the spend limit: ${text}`);
  const created = JSON.parse(text) as { id: string };
  if (scope.type === 'rbac_group') return created;
  const probe = scope.type === 'user' ? scope.user_id : ORG_PROBE_USER;
  for (const gw of req.enforcedBy ?? [req.via]) {
    await waitFor(`${gw} enforces the ${period} ${scope.type} limit ${created.id} (${req.amount ?? 'unlimited'})`, async () => {
      const e = await fetch(`${gw}/v1/organizations/spend_limits/effective?user_ids[]=${encodeURIComponent(probe)}&period[]=${period}`, {
        headers: { 'x-api-key': req.adminKey },
      });
      const row = ((await e.json()) as { data?: { amount: string | null; limit_source: { id: string } | null }[] }).data?.[0];
      return e.status === 200 && row?.limit_source?.id === created.id && row.amount === req.amount;
    });
  }
  return created;
}

/**
 * Setting a spend limit through the Admin API and waiting until every named gateway enforces it.
 * Replicas learn of a change by NOTIFY; rather than sleep for it, poll each gateway's
 * GET …/spend_limits/effective, which resolves the cap from the same in-memory cache the request
 * gate uses, until it reports the new amount.
 */
import assert from 'node:assert/strict';
import { waitFor } from './wait';

export interface SpendLimitRequest {
  /** The gateway the POST goes to. */
  via: string;
  /** Every gateway that must enforce the limit before this returns (default: `via` alone). */
  enforcedBy?: string[];
  adminKey: string;
  userId: string;
  /** Cents, as the Admin API takes them. */
  amount: string;
  period?: 'daily' | 'weekly' | 'monthly';
}

export async function setSpendLimit(req: SpendLimitRequest): Promise<{ id: string }> {
  const period = req.period ?? 'daily';
  const r = await fetch(`${req.via}/v1/organizations/spend_limits`, {
    method: 'POST',
    headers: { 'x-api-key': req.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: { type: 'user', user_id: req.userId }, amount: req.amount, period }),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `setting the spend limit: ${text}`);
  for (const gw of req.enforcedBy ?? [req.via]) {
    await waitFor(`${gw} enforces a ${period} cap of ${req.amount} cents on ${req.userId}`, async () => {
      const e = await fetch(`${gw}/v1/organizations/spend_limits/effective?user_ids[]=${encodeURIComponent(req.userId)}&period[]=${period}`, {
        headers: { 'x-api-key': req.adminKey },
      });
      const body = (await e.json()) as { data?: { amount: string | null }[] };
      return e.status === 200 && body.data?.[0]?.amount === req.amount ? body : undefined;
    });
  }
  return JSON.parse(text) as { id: string };
}

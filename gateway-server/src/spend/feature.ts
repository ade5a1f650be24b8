/**
 * Spend limits (issue 5): hard caps per organization, group and user. Active when gateway.yaml
 * has an `admin:` block (as the official gateway: caps live only in the API). Contributes the
 * SpendGate, the admin API, /api/oauth/usage and a reconciler of crashed replicas' reservations.
 */
import { lagTolerant } from '../store/db';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Feature, FeatureContext } from '../feature';
import type { AdmitContext } from '../inference/hooks';
import { AdminAuthenticator } from '../admin/admin-auth';
import { SpendLimitsStore } from './admin/spend-limits-store';
import { spendLimitRoutes } from './admin/spend-limits-routes';
import { EffectiveReader } from './admin/effective';
import { usageRoute, type SpendStanding } from './admin/usage-route';
import { ReservingSpendGate } from './gate';
import { LimitCache } from './limit-cache';
import { periodWindows } from './periods';
import { PriceBook } from './pricing';
import { SettleQueue } from './settle-queue';
import { usageBody, type CapStanding } from './standing';
import { pruneSpendRetention } from './retention';

/** Reservations older than this are a crashed replica's (longer than any request may run). */
export const RESERVATION_TTL_MS = 60 * 60 * 1000;
/** A lease not renewed for this long is a crashed replica's; holders renew every third of it. */
export const LEASE_TTL_MS = 60_000;
/** A lease unused this long goes back to the pool (other replicas may need the allowance). */
export const LEASE_IDLE_MS = 30_000;
const LEASE_SWEEP_EVERY_MS = 5_000;
const RECONCILE_EVERY_MS = 30_000;
const DAY_MS = 86_400_000;
/** Retention runs hourly (TOLLGATE_RETENTION_EVERY_MS overrides, for tests), first a minute after boot. */
const retentionEveryMs = () => (Number(process.env.TOLLGATE_RETENTION_EVERY_MS) > 0 ? Number(process.env.TOLLGATE_RETENTION_EVERY_MS) : 3_600_000);
/** As the official gateway: the cap check gives up after 2 s (then fail-open or fail-closed). */
const STORE_TIMEOUT_MS = 2_000;

export type { SpendStanding } from './admin/usage-route';

/** Run one reconciliation pass: charge and release reservations expired at `nowMs`. */
export async function reconcileReservations(db: FeatureContext['db'], nowMs: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT tollgate_spend_reconcile($1::timestamptz) AS n', [new Date(nowMs).toISOString()]);
  return Number(rows[0]?.n ?? 0);
}

/** Forfeit leases whose holder stopped renewing them by `nowMs`: their unsettled slice is charged. */
export async function reconcileLeases(db: FeatureContext['db'], nowMs: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT tollgate_spend_reconcile_leases($1::timestamptz) AS n', [new Date(nowMs).toISOString()]);
  return Number(rows[0]?.n ?? 0);
}

export async function createSpendFeature(ctx: FeatureContext): Promise<Feature> {
  const admin = ctx.config.admin;
  if (!admin) return {};
  const { db, clock, log } = ctx;
  const now = () => clock.now();

  let gateRef: ReservingSpendGate | undefined;
  // A changed cap must apply to the next request: leases granted under the old caps drain and close.
  const limits = new LimitCache(
    db,
    (err) => log.warn({ err: (err as Error).message }, 'spend limits reload failed; keeping the previous ones'),
    () => gateRef?.leases.retireAll(),
  );
  await limits.start();
  const warned = new Set<string>();
  const prices = new PriceBook(ctx.config.pricing.overrides, ctx.config.pricing.multiplier, (model) => {
    if (warned.has(model)) return;
    warned.add(model);
    log.warn({ model }, 'no price for this model: charging the unknown-model tier ($5/$25 per million tokens); add a pricing.overrides row');
  }, ctx.config.enforcement.default_max_output_tokens);
  const queue = new SettleQueue(db, now);
  const enf = ctx.config.enforcement;
  if (enf.mode === 'soft' && !enf.fail_closed_on_error) {
    log.warn({ evt: 'spend.fail_open' }, 'enforcement.mode is soft: while the spend store is unreachable, requests are admitted without a cap check (fail-open); set enforcement.fail_closed_on_error: true to refuse instead');
  }

  const known = new Map<string, string>();
  // Principals come from the bearer cache: one object per token, so most requests stop here.
  const checked = new WeakMap<object, number>();
  const seen = (a: AdmitContext) => {
    const p = a.principal;
    // The day is part of the check so last_seen moves at least daily (identity retention reads it).
    const day = Math.floor(now() / DAY_MS);
    if (checked.get(p) === day) return;
    checked.set(p, day);
    const sig = JSON.stringify([p.email ?? null, p.name ?? null, p.groups, day]);
    if (known.get(p.sub) === sig) return;
    known.set(p.sub, sig);
    // Off the hot path: who the caller is only labels /effective rows.
    db.query(
      `INSERT INTO spend_principals (sub, email, name, groups, last_seen) VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (sub) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, groups = EXCLUDED.groups, last_seen = EXCLUDED.last_seen`,
      [p.sub, p.email ?? null, p.name ?? null, JSON.stringify(p.groups), new Date(now()).toISOString()],
    ).catch((err) => {
      known.delete(p.sub);
      checked.delete(p);
      log.warn({ err: (err as Error).message }, 'could not record principal for spend reports');
    });
  };

  const gate = new ReservingSpendGate({
    db,
    clock,
    limits,
    prices,
    queue,
    mode: ctx.config.enforcement.mode,
    reservation: ctx.config.enforcement.reservation,
    holder: `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`,
    leaseTtlMs: LEASE_TTL_MS,
    groupLimitMode: admin.group_limit_mode,
    failClosed: ctx.config.enforcement.fail_closed_on_error,
    blockedMessage: admin.blocked_message,
    minOutputTokens: ctx.config.enforcement.min_output_tokens,
    countTokensNearCap: ctx.config.enforcement.count_tokens_near_cap,
    dropCacheControlNearCap: ctx.config.enforcement.drop_cache_control_near_cap,
    reservationTtlMs: RESERVATION_TTL_MS,
    storeTimeoutMs: STORE_TIMEOUT_MS,
    log,
    seen,
  });

  const standing: SpendStanding = {
    async usage(sub, groups) {
      const windows = periodWindows(now());
      const caps = gate.caps(sub, groups, windows);
      const { rows } = await db.query<{ bucket: string; spent_micros: string }>('SELECT bucket, spent_micros FROM spend_counters WHERE principal = $1 AND bucket = ANY($2::text[])', [
        sub,
        windows.map((w) => w.bucket),
      ]);
      const standings: CapStanding[] = windows.map((w, i) => ({
        window: w,
        capCents: caps[i]!,
        spentMicros: BigInt(rows.find((r) => r.bucket === w.bucket)?.spent_micros ?? 0),
      }));
      return usageBody(standings);
    },
  };

  gateRef = gate;

  const reconciler = setInterval(() => {
    reconcileReservations(db, now())
      .then((n) => n > 0 && log.warn({ reservations: n }, 'reconciled reservations of a crashed replica (charged the prompt estimate)'))
      .catch((err) => log.warn({ err: (err as Error).message }, 'spend reconciliation failed; will retry'));
    reconcileLeases(db, now())
      .then((n) => n > 0 && log.warn({ leases: n }, 'forfeited spend leases of a replica that stopped renewing them (charged their unsettled slice)'))
      .catch((err) => log.warn({ err: (err as Error).message }, 'spend lease reconciliation failed; will retry'));
  }, RECONCILE_EVERY_MS);
  reconciler.unref();
  const runRetention = () => {
    pruneSpendRetention(db, admin, now())
      .then((r) => (r.ledger || r.counters || r.principals) && log.info({ evt: 'spend.retention', ...r }, 'spend and identity retention'))
      .catch((err) => log.warn({ err: (err as Error).message }, 'spend retention run failed; will retry'));
  };
  const retentionFirst = setTimeout(runRetention, Math.min(60_000, retentionEveryMs()));
  const retention = setInterval(runRetention, retentionEveryMs());
  retentionFirst.unref();
  retention.unref();
  let sinceRenew = 0;
  const sweeper = setInterval(() => {
    gate.closeIdleLeases(LEASE_IDLE_MS);
    sinceRenew += LEASE_SWEEP_EVERY_MS;
    if (sinceRenew >= LEASE_TTL_MS / 3) {
      sinceRenew = 0;
      gate.renewLeases().catch((err) => log.warn({ err: (err as Error).message }, 'could not renew spend leases; will retry'));
    }
  }, LEASE_SWEEP_EVERY_MS);
  sweeper.unref();

  return {
    spend: gate,
    // A sign-in records who holds which email and groups, so a cap keyed by email or group
    // resolves before the person's first request (spend/admin/spend-limits-routes.ts).
    async onEvent(e) {
      if ((e.name !== 'session.mint' && e.name !== 'session.refresh') || e.outcome !== 'ok' || !e.principal) return;
      const p = e.principal;
      await db
        .query(
          `INSERT INTO spend_principals (sub, email, name, groups, last_seen) VALUES ($1, $2, NULL, $3::jsonb, $4)
           ON CONFLICT (sub) DO UPDATE SET email = EXCLUDED.email, groups = EXCLUDED.groups, last_seen = EXCLUDED.last_seen`,
          [p.sub, p.email ?? null, JSON.stringify(p.groups ?? []), new Date(now()).toISOString()],
        )
        .catch((err) => log.warn({ err: (err as Error).message }, 'could not record a signed-in principal for spend reports'));
    },
    routes: async (app, rctx) => {
      const adminAuth = new AdminAuthenticator(rctx.config, rctx.auth, rctx.emit);
      const store = new SpendLimitsStore(db, now);
      // A summary for finance and dashboards: seconds of replica lag are fine (store.read_url).
      const effective = new EffectiveReader(lagTolerant(db), () => limits.rows, admin.group_limit_mode, now);
      await app.register(spendLimitRoutes, { admin: adminAuth, store, effective, emit: rctx.emit, limits });
      await app.register(usageRoute, { auth: rctx.auth, standing });
    },
    writes: queue,
    async close() {
      clearInterval(reconciler);
      clearInterval(sweeper);
      clearTimeout(retentionFirst);
      clearInterval(retention);
      // Give every lease back (requests have drained by now), then write what is queued.
      gate.leases.retireAll();
      gate.closeIdleLeases(0);
      await queue.drain();
      await limits.close();
    },
  };
}

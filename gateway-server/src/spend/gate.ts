/**
 * SpendGate: hard caps (default) or soft metering (the official gateway's behaviour).
 *
 * Hard, `reservation: lease` (default): the request's worst case is taken from this replica's
 * lease on the caller's allowance, in memory; PostgreSQL is asked only when the lease runs short
 * (leases.ts). Hard, `reservation: request`: one call of tollgate_spend_reserve before proxying
 * reserves the worst case against the caller's period counters under row locks, or refuses.
 * Either way settle() queues the real cost (group-committed, riding in the audit transaction)
 * and releases the rest. Callers with no cap in any period reserve nothing and are only metered.
 */
import { randomUUID } from 'node:crypto';
import type { Admission, AdmitContext, SpendGate } from '../inference/hooks';
import type { Usage } from '../inference/usage-tap';
import { GatewayError } from '../errors';
import type { Db } from '../store/db';
import type { Clock } from '../feature';
import { resolveCap } from './layering';
import type { LimitCache } from './limit-cache';
import { periodWindows, type PeriodWindow } from './periods';
import { abortedUsage, type PriceBook, type WorstCase } from './pricing';
import { admitNearCap, DEFAULT_MIN_OUTPUT_TOKENS, headroom, nearCapDetail, type Attempt, type Counter, type Short } from './near-cap';
import type { SettleItem, SettleQueue } from './settle-queue';
import { LeaseBook, type GrantResult, type Lease } from './leases';
import { allowedHeaders, FETCH_ERROR_HEADERS, MICROS_PER_CENT, rejection, type CapStanding } from './standing';

export interface GateOptions {
  db: Db;
  clock: Clock;
  limits: LimitCache;
  prices: PriceBook;
  queue: SettleQueue;
  mode: 'hard' | 'soft';
  reservation: 'lease' | 'request';
  /** This replica, as lease holder. */
  holder: string;
  /** How long a lease lives without renewal before another replica forfeits it. */
  leaseTtlMs: number;
  groupLimitMode: 'min' | 'max';
  failClosed: boolean;
  blockedMessage: string;
  /** Near a cap, a request whose lowered `max_tokens` would fall below this is refused (enforcement.min_output_tokens). */
  minOutputTokens?: number;
  /** Near a cap, bound the prompt by the upstream's count_tokens (enforcement.count_tokens_near_cap, default true). */
  countTokensNearCap?: boolean;
  /** Near a cap, forward a request that fits only without prompt caching with its cache_control removed (enforcement.drop_cache_control_near_cap, default true). */
  dropCacheControlNearCap?: boolean;
  /** How long a reservation may live before any replica reconciles it as crashed. */
  reservationTtlMs: number;
  storeTimeoutMs: number;
  log: { warn(o: object, msg: string): void; error(o: object, msg: string): void };
  /** Record who the caller is (for /effective), off the hot path. */
  seen(ctx: AdmitContext): void;
}

/** Retries of a lease's close, over about 15 minutes (2 s, 4 s, 8 s … then every 60 s). */
const GIVE_BACK_ATTEMPTS = 20;

interface CounterRow {
  ok?: boolean;
  bucket: string;
  spent: string;
  reserved: string;
  cap?: string | null;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`spend store did not answer within ${ms} ms`)), ms);
    }),
  ]);
}

export class ReservingSpendGate implements SpendGate {
  readonly leases: LeaseBook;

  constructor(private readonly o: GateOptions) {
    this.leases = new LeaseBook({ grant: (lease, need, want) => this.grant(lease, need, want) });
  }

  /** Caps for the caller in period order (daily, weekly, monthly), from the in-memory limits. */
  caps(sub: string, groups: readonly string[], windows: PeriodWindow[]): (bigint | null)[] {
    return windows.map((w) => resolveCap(this.o.limits.rows, sub, groups, w.period, this.o.groupLimitMode).amountCents);
  }

  async admit(ctx: AdmitContext): Promise<Admission> {
    const o = this.o;
    o.seen(ctx);
    const now = o.clock.now();
    const windows = periodWindows(now);
    const caps = this.caps(ctx.principal.sub, ctx.principal.groups, windows);
    const buckets = windows.map((w) => w.bucket);
    const base: Base = { buckets, principal: ctx.principal.sub, model: ctx.model, requestId: ctx.requestId, rawBodyBytes: ctx.rawBodyBytes };
    if (caps.every((c) => c === null)) return this.charged(base, {}, { k: 'force' });
    const wc = o.prices.worstCase(ctx.model, ctx.body, ctx.rawBodyBytes, ctx.rawBody, ctx.family);
    const { promptEstimate } = wc;
    // fail_closed_on_error refuses everything while the store is known to be down, leased slices included.
    if (o.failClosed && o.db.health && !o.db.health.reachable) return this.storeFailed(ctx, base, new Error('store unreachable'));
    const capMicros = caps.map((c) => (c === null ? null : c * MICROS_PER_CENT));

    if (o.mode === 'hard' && o.reservation === 'lease') {
      const leaseAdmit = async (need: bigint, forward?: Forward): Promise<Admission | Short> => {
        let res;
        try {
          res = await this.leases.admit(ctx.principal.sub, buckets, capMicros, need, now);
        } catch (err) {
          return this.storeFailed(ctx, base, err);
        }
        // What this request may still take: the rest of this replica's slice and the pool's room.
        if (!res.ok) return { left: res.available + headroom(res.rows, capMicros, buckets), rows: res.rows };
        const spent = res.lease.spentNow();
        const standings: CapStanding[] = windows.map((w, i) => ({ window: w, capCents: caps[i]!, spentMicros: spent[i] ?? 0n }));
        return this.charged(base, allowedHeaders(standings), { k: 'lease', lease: res.lease, need }, forward);
      };
      return this.nearCap(ctx, wc, windows, caps, now, leaseAdmit);
    }

    if (o.mode === 'hard') {
      const reserveOnce = async (need: bigint, forward?: Forward): Promise<Admission | Short> => {
        const id = `rsv_${randomUUID()}`;
        let rows: CounterRow[];
        try {
          rows = await this.reserveRequest(ctx, id, buckets, capMicros, need, promptEstimate, now);
        } catch (err) {
          // If the reserve did commit after the timeout, the forced settlement releases it.
          return this.storeFailed(ctx, { ...base, id }, err);
        }
        if (rows.length > 0 && rows[0]!.ok === false) return { left: headroom(counters(rows), capMicros, buckets), rows: counters(rows) };
        const standings = this.standings(windows, caps, counters(rows));
        return this.charged({ ...base, id }, allowedHeaders(standings), { k: 'reservation' }, forward);
      };
      return this.nearCap(ctx, wc, windows, caps, now, reserveOnce);
    }

    let rows: CounterRow[];
    try {
      const res = await withTimeout(
        o.db.query<CounterRow>('SELECT bucket, spent_micros AS spent, reserved_micros AS reserved FROM spend_counters WHERE principal = $1 AND bucket = ANY($2::text[])', [
          ctx.principal.sub,
          buckets,
        ]),
        o.storeTimeoutMs,
      );
      rows = res.rows;
    } catch (err) {
      return this.storeFailed(ctx, base, err);
    }
    const standings = this.standings(windows, caps, counters(rows));
    const reached = standings.filter((s) => s.capCents !== null && s.spentMicros >= s.capCents * MICROS_PER_CENT);
    if (reached.length) throw this.refusal(reached, now);
    return this.charged(base, allowedHeaders(standings), { k: 'force' });
  }

  private async reserveRequest(ctx: AdmitContext, id: string, buckets: string[], capMicros: (bigint | null)[], amount: bigint, estimate: bigint, now: number): Promise<CounterRow[]> {
    const o = this.o;
    const res = await withTimeout(
      o.db.query<CounterRow>('SELECT * FROM tollgate_spend_reserve($1, $2, $3::text[], $4::bigint[], $5::bigint, $6::bigint, $7, $8, $9::timestamptz, $10::timestamptz)', [
        ctx.principal.sub,
        id,
        buckets,
        capMicros.map((c) => (c === null ? null : String(c))),
        String(amount),
        String(estimate),
        ctx.model,
        ctx.requestId,
        new Date(now).toISOString(),
        new Date(now + o.reservationTtlMs).toISOString(),
      ]),
      o.storeTimeoutMs,
    );
    return res.rows;
  }

  /** Near-cap admission (near-cap.ts), else the 429 saying what is left and what the request needed. */
  private async nearCap(ctx: AdmitContext, wc: WorstCase, windows: PeriodWindow[], caps: (bigint | null)[], now: number, attempt: Attempt): Promise<Admission> {
    const o = this.o;
    const opts = { prices: o.prices, floor: o.minOutputTokens ?? DEFAULT_MIN_OUTPUT_TOKENS, countTokens: o.countTokensNearCap !== false, dropCacheControl: o.dropCacheControlNearCap !== false };
    const r = await admitNearCap(opts, ctx, wc, attempt);
    if (!('short' in r)) return r;
    throw this.nearCapRefusal(windows, caps, r.short.rows, r.short.left, now, nearCapDetail(o.prices, r.wc, r.short.left, opts.floor, r.reason, r.plain));
  }

  /** The 429 near a cap: which caps, when they reset, and `detail` (what is left and what the request needed). */
  private nearCapRefusal(windows: PeriodWindow[], caps: (bigint | null)[], rows: Counter[], left: bigint, now: number, detail: string): GatewayError {
    const standings = this.standings(windows, caps, rows).filter((s) => s.capCents !== null);
    const capped = standings.filter((s) => s.spentMicros + s.reserved >= s.capCents! * MICROS_PER_CENT - left);
    const r = rejection(capped.length ? capped : standings, now, this.o.blockedMessage, detail);
    return new GatewayError('SPEND_LIMIT_REACHED', r.message, { headers: r.headers });
  }

  /** Close idle and retired leases (their rest goes back to the pool); `idleMs` 0 closes every idle lease. */
  closeIdleLeases(idleMs: number): number {
    const closable = this.leases.takeClosable(this.o.clock.now(), idleMs);
    for (const l of closable) if (l.asked) this.giveBack(l);
    return closable.length;
  }

  /**
   * Close a lease in PostgreSQL, retrying through a store outage: until it succeeds the slice
   * stays reserved, and once its TTL passes another replica forfeits it; the close that finally
   * lands then refunds the forfeit down to the real total, so the books still end exact.
   */
  private giveBack(l: Lease, attempt = 1): void {
    this.o.queue.settle({ k: 'close', lease: l.id, principal: l.principal, buckets: l.buckets, total: String(l.settledTotal) }).catch((err) => {
      if (attempt >= GIVE_BACK_ATTEMPTS) {
        this.o.log.error({ err: (err as Error).message, lease: l.id }, 'could not give a spend lease back; another replica will forfeit it (its whole slice is charged)');
        return;
      }
      this.o.log.warn({ err: (err as Error).message, lease: l.id, attempt }, 'could not give a spend lease back; retrying');
      setTimeout(() => this.giveBack(l, attempt + 1), Math.min(60_000, 1000 * 2 ** attempt)).unref();
    });
  }

  /** Extend this replica's leases; a lease another replica forfeited (we looked dead) is retired. */
  async renewLeases(): Promise<void> {
    const held = this.leases.held();
    if (held.length === 0) return;
    const now = this.o.clock.now();
    const { rows } = await this.o.db.query<{ id: string }>('UPDATE spend_leases SET expires_at = $3 WHERE holder = $1 AND id = ANY($2::text[]) AND NOT forfeited RETURNING id', [
      this.o.holder,
      held.map((l) => l.id),
      new Date(now + this.o.leaseTtlMs).toISOString(),
    ]);
    const alive = new Set(rows.map((r) => r.id));
    for (const l of held) {
      if (alive.has(l.id) || l.granting) continue;
      if (l.held > 0n) this.o.log.warn({ lease: l.id }, 'a spend lease of this replica was forfeited by another (this replica looked dead); starting a new one');
      this.leases.retire(l);
    }
  }

  private async grant(lease: Lease, need: bigint, want: bigint): Promise<GrantResult> {
    const o = this.o;
    const now = o.clock.now();
    const res = await withTimeout(
      o.db.query<{ granted: string; bucket: string; spent: string; reserved: string }>(
        'SELECT * FROM tollgate_spend_lease($1, $2, $3, $4::text[], $5::bigint[], $6::bigint, $7::bigint, $8::timestamptz, $9::timestamptz)',
        [
          lease.id,
          lease.principal,
          o.holder,
          lease.buckets,
          lease.caps.map((c) => (c === null ? null : String(c))),
          String(need),
          String(want),
          new Date(now).toISOString(),
          new Date(now + o.leaseTtlMs).toISOString(),
        ],
      ),
      o.storeTimeoutMs,
    );
    // Rows come in bucket-name order; the lease keeps period order (daily, weekly, monthly).
    const byBucket = new Map(res.rows.map((r) => [r.bucket, r]));
    return {
      granted: BigInt(res.rows[0]?.granted ?? 0),
      rows: lease.buckets.map((b) => {
        const r = byBucket.get(b);
        return { bucket: b, spent: BigInt(r?.spent ?? 0), reserved: BigInt(r?.reserved ?? 0) };
      }),
    };
  }

  private standings(windows: PeriodWindow[], caps: (bigint | null)[], rows: Counter[]) {
    return windows.map((w, i) => {
      const row = rows.find((r) => r.bucket === w.bucket);
      return { window: w, capCents: caps[i]!, spentMicros: row?.spent ?? 0n, reserved: row?.reserved ?? 0n };
    });
  }

  private refusal(refused: CapStanding[], now: number): GatewayError {
    const r = rejection(refused, now, this.o.blockedMessage);
    return new GatewayError('SPEND_LIMIT_REACHED', r.message, { headers: r.headers });
  }

  /**
   * The store did not answer a cap check. fail_closed_on_error: the official 429. Hard mode: a
   * 503 the client retries (never admitted unchecked: caps stay hard through an outage; under
   * `lease` what a held slice covers was admitted before we got here). Soft mode: fail-open.
   */
  private storeFailed(ctx: AdmitContext, base: Base, err: unknown): Admission {
    const o = this.o;
    const refusing = o.failClosed || o.mode === 'hard';
    const now = o.clock.now();
    if (now - this.lastStoreWarning > 1000) {
      this.lastStoreWarning = now;
      o.log.warn(
        { requestId: ctx.requestId, err: (err as Error).message },
        o.failClosed
          ? 'spend store unavailable: refusing (fail_closed_on_error)'
          : refusing
            ? 'spend store unavailable: refusing what no held lease covers (hard mode)'
            : 'spend store unavailable: admitting without a cap check (soft mode, fail-open)',
      );
    }
    if (refusing && base.id) this.releaseLate(base);
    if (o.failClosed) throw new GatewayError('SPEND_UNAVAILABLE', undefined, { headers: FETCH_ERROR_HEADERS });
    if (refusing) throw new GatewayError('SPEND_STORE_UNREACHABLE', undefined, { headers: { 'retry-after': '5' } });
    return this.charged(base, {}, { k: 'force' });
  }

  /** A reserve that timed out may still commit: settle it at zero so it is released, not reconciled as a crash. */
  private releaseLate(base: Base): void {
    const item: SettleItem = { k: 'charge', id: base.id!, cost: '0', force: false, estimated: false, principal: base.principal, buckets: base.buckets, request_id: base.requestId, model: base.model, upstream: null, usage: null };
    this.o.queue.settle(item).catch(() => {});
  }

  private lastStoreWarning = 0;

  /** The real cost of a finished request, from its usage (aborted streams: the documented estimate). */
  private cost(base: Base, result: Parameters<Admission['settle']>[0]): { cost: bigint; usage: Usage; estimated: boolean } {
    const o = this.o;
    const ok = result.status >= 200 && result.status < 300;
    if (!ok) return { cost: 0n, usage: result.usage, estimated: false };
    let usage: Usage = result.usage;
    let estimated = false;
    if (result.aborted) {
      usage = abortedUsage(usage, result.outputChars);
      estimated = true;
    }
    let cost = o.prices.cost(usage, o.prices.rates(base.model, result.upstream, result.upstreamModel));
    // A stream cut before message_start reported nothing: the prompt was still billed.
    if (result.aborted && usage.input_tokens === 0 && usage.cache_read_input_tokens === 0 && usage.cache_creation_input_tokens === 0) {
      cost += o.prices.promptEstimate(base.model, base.rawBodyBytes, result.upstream, result.upstreamModel);
    }
    return { cost, usage, estimated };
  }

  private charged(
    base: Base,
    headers: Record<string, string>,
    /** reservation: settle a per-request reservation; lease: from a lease; force: charge with nothing reserved. */
    how: { k: 'reservation' } | { k: 'force' } | { k: 'lease'; lease: Lease; need: bigint },
    forward?: Forward,
  ): Admission {
    const o = this.o;
    let committed: Promise<void> | undefined;
    return {
      headers,
      ...(forward ? { forward } : {}),
      committed: () => committed ?? Promise.resolve(),
      settle: async (result) => {
        const { cost, usage, estimated } = this.cost(base, result);
        const common = { principal: base.principal, buckets: base.buckets, estimated, request_id: base.requestId, model: base.model, upstream: result.upstream ?? null, usage };
        let item: SettleItem | undefined;
        let giveBack = false;
        if (how.k === 'lease') {
          const l = how.lease;
          giveBack = this.leases.settle(l, how.need, cost, o.clock.now());
          // A failed request costs nothing and releases in memory: no write at all.
          if (cost > 0n) item = { k: 'lease', lease: l.id, total: String(l.settledTotal), id: `chg_${randomUUID()}`, cost: String(cost), ...common };
        } else {
          item = { k: 'charge', id: base.id ?? `chg_${randomUUID()}`, cost: String(cost), force: how.k === 'force', ...common };
          if (how.k === 'force' && cost === 0n) item = undefined;
        }
        if (item) committed = o.queue.settle(item);
        // Queued right behind the settlement, the close goes in the same statement.
        if (giveBack && how.k === 'lease') this.giveBack(how.lease);
        return Number(cost);
      },
    };
  }
}

type Forward = NonNullable<Admission['forward']>;

const counters = (rows: CounterRow[]): Counter[] => rows.map((r) => ({ bucket: r.bucket, spent: BigInt(r.spent), reserved: BigInt(r.reserved) }));

interface Base {
  /** The per-request reservation's id (request mode), also its ledger id. */
  id?: string;
  buckets: string[];
  principal: string;
  model: string;
  requestId: string;
  rawBodyBytes: number;
}

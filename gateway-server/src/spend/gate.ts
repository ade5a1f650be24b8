/**
 * SpendGate: hard caps by reservation (default) or soft metering (official behaviour).
 *
 * Hard: one call of tollgate_spend_reserve before proxying reserves the request's worst case
 * against the caller's three period counters under row locks, or refuses. settle() moves the real
 * cost in and releases the rest (group-committed). Callers with no cap in any period skip the
 * reservation entirely and are only metered.
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
import { abortedUsage, type PriceBook } from './pricing';
import type { SettleQueue } from './settle-queue';
import { allowedHeaders, FETCH_ERROR_HEADERS, MICROS_PER_CENT, rejection, type CapStanding } from './standing';

export interface GateOptions {
  db: Db;
  clock: Clock;
  limits: LimitCache;
  prices: PriceBook;
  queue: SettleQueue;
  mode: 'hard' | 'soft';
  groupLimitMode: 'min' | 'max';
  failClosed: boolean;
  blockedMessage: string;
  /** How long a reservation may live before any replica reconciles it as crashed. */
  reservationTtlMs: number;
  storeTimeoutMs: number;
  log: { warn(o: object, msg: string): void; error(o: object, msg: string): void };
  /** Record who the caller is (for /effective), off the hot path. */
  seen(ctx: AdmitContext): void;
}

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
  constructor(private readonly o: GateOptions) {}

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
    const id = `rsv_${randomUUID()}`;
    const buckets = windows.map((w) => w.bucket);
    const base = { id, buckets, principal: ctx.principal.sub, model: ctx.model, requestId: ctx.requestId, rawBodyBytes: ctx.rawBodyBytes };
    if (caps.every((c) => c === null)) return this.admission(base, {}, true);

    const { reserve, promptEstimate } = o.prices.worstCase(ctx.model, ctx.body, ctx.rawBodyBytes);
    let rows: CounterRow[];
    try {
      if (o.mode === 'hard') {
        const res = await withTimeout(
          o.db.query<CounterRow>('SELECT * FROM tollgate_spend_reserve($1, $2, $3::text[], $4::bigint[], $5::bigint, $6::bigint, $7, $8, $9::timestamptz, $10::timestamptz)', [
            ctx.principal.sub,
            id,
            buckets,
            caps.map((c) => (c === null ? null : String(c * MICROS_PER_CENT))),
            String(reserve),
            String(promptEstimate),
            ctx.model,
            ctx.requestId,
            new Date(now).toISOString(),
            new Date(now + o.reservationTtlMs).toISOString(),
          ]),
          o.storeTimeoutMs,
        );
        rows = res.rows;
      } else {
        const res = await withTimeout(
          o.db.query<CounterRow>('SELECT bucket, spent_micros AS spent, reserved_micros AS reserved FROM spend_counters WHERE principal = $1 AND bucket = ANY($2::text[])', [
            ctx.principal.sub,
            buckets,
          ]),
          o.storeTimeoutMs,
        );
        rows = res.rows;
      }
    } catch (err) {
      o.log.warn({ requestId: ctx.requestId, err: (err as Error).message }, o.failClosed ? 'spend store unavailable: refusing (fail_closed_on_error)' : 'spend store unavailable: admitting without a cap check (fail-open)');
      if (o.failClosed) throw new GatewayError('SPEND_UNAVAILABLE', undefined, { headers: FETCH_ERROR_HEADERS });
      // If the reserve did commit after the timeout, the forced settlement releases it.
      return this.admission(base, {}, true);
    }

    const standings: CapStanding[] = windows.map((w, i) => {
      const row = rows.find((r) => r.bucket === w.bucket);
      return { window: w, capCents: caps[i]!, spentMicros: BigInt(row?.spent ?? 0), reserved: BigInt(row?.reserved ?? 0) } as CapStanding & { reserved: bigint };
    });
    const refused =
      o.mode === 'hard'
        ? rows.length > 0 && rows[0]!.ok === false
          ? standings.filter((s) => s.capCents !== null && s.spentMicros + (s as CapStanding & { reserved: bigint }).reserved + reserve > s.capCents * MICROS_PER_CENT)
          : []
        : standings.filter((s) => s.capCents !== null && s.spentMicros >= s.capCents * MICROS_PER_CENT);
    if (refused.length > 0) {
      const r = rejection(refused, now, o.blockedMessage);
      throw new GatewayError('SPEND_LIMIT_REACHED', r.message, { headers: r.headers });
    }
    return this.admission(base, allowedHeaders(standings), o.mode === 'soft');
  }

  private admission(
    base: { id: string; buckets: string[]; principal: string; model: string; requestId: string; rawBodyBytes: number },
    headers: Record<string, string>,
    /** No reservation was taken (soft mode, uncapped, fail-open): charge without one. */
    force: boolean,
  ): Admission {
    const o = this.o;
    return {
      headers,
      settle: async (result) => {
        const ok = result.status >= 200 && result.status < 300;
        let usage: Usage = result.usage;
        let estimated = false;
        let cost = 0n;
        if (ok) {
          if (result.aborted) {
            usage = abortedUsage(usage, result.outputChars);
            estimated = true;
          }
          cost = o.prices.cost(usage, o.prices.rates(base.model, result.upstream, result.upstreamModel));
          // A stream cut before message_start reported nothing: the prompt was still billed.
          if (result.aborted && usage.input_tokens === 0 && usage.cache_read_input_tokens === 0 && usage.cache_creation_input_tokens === 0) {
            cost += o.prices.promptEstimate(base.model, base.rawBodyBytes, result.upstream, result.upstreamModel);
          }
        }
        await o.queue.settle({
          id: base.id,
          principal: base.principal,
          buckets: base.buckets,
          cost: String(cost),
          force,
          estimated,
          request_id: base.requestId,
          model: base.model,
          upstream: result.upstream ?? null,
          usage,
        });
        return Number(cost);
      },
    };
  }
}

/**
 * Budget leases, the replica's side: a capped caller's requests are admitted in memory against a
 * slice of their remaining allowance that this replica holds in PostgreSQL (counted there as
 * reserved, so other replicas cannot spend it). Only when the slice runs short does an admission
 * wait for a database round trip (tollgate_spend_lease), and concurrent admissions of one caller
 * share that round trip. No database, no framework: the store calls are injected.
 *
 * Invariant kept per lease: the worst cases of requests in flight never exceed what is held, so
 * every admitted request is covered by a reservation PostgreSQL knows about.
 */
import { randomUUID } from 'node:crypto';

/** Extra slice asked for beyond the requests waiting: this many more worst cases of the current request. */
export const LEASE_SPARE_REQUESTS = 4n;

export interface GrantResult {
  /** Micro-dollars added to the lease; 0 = refused (a cap would be passed); -1 = the lease was forfeited. */
  granted: bigint;
  /** Counters after the grant, in bucket order of the lease. */
  rows: { bucket: string; spent: bigint; reserved: bigint }[];
}

export interface LeaseStore {
  grant(lease: Lease, need: bigint, want: bigint): Promise<GrantResult>;
}

export class Lease {
  readonly id = `lse_${randomUUID()}`;
  /** What PostgreSQL holds for this lease, as far as this replica knows (granted minus settled). */
  held = 0n;
  /** Sum of the worst cases of admitted requests not yet settled. */
  inFlight = 0n;
  inFlightCount = 0;
  /** Cumulative cost settled through this lease (sent with every settlement). */
  settledTotal = 0n;
  /** Spent per bucket at the last grant, and settledTotal then: for the usage-limit headers. */
  spentAtGrant: bigint[] = [];
  settledAtGrant = 0n;
  lastUsedMs = 0;
  /** No new admissions; closed (rest released) once nothing is in flight. */
  retiring = false;
  granting?: Promise<GrantResult>;
  /** A grant was ever sent, so PostgreSQL may hold a row to close. */
  asked = false;
  /** Needs of admissions waiting on a grant, so the next grant asks for all of them. */
  waitingNeed = 0n;

  constructor(
    readonly key: string,
    readonly principal: string,
    readonly buckets: readonly string[],
    /** The caps (per bucket, micro-dollars or null) the lease is granted under. */
    readonly caps: readonly (bigint | null)[],
  ) {}

  available(): bigint {
    return this.held - this.inFlight;
  }

  /** Spent per bucket as this replica last saw it (other replicas' spend since the last grant is not included). */
  spentNow(): bigint[] {
    const since = this.settledTotal - this.settledAtGrant;
    return this.spentAtGrant.map((s) => s + since);
  }
}

export type LeaseAdmit =
  | { ok: true; lease: Lease }
  | { ok: false; forfeited: false; rows: GrantResult['rows']; available: bigint };

export class LeaseBook {
  private readonly current = new Map<string, Lease>();
  /** Retired leases still draining in-flight requests. */
  private readonly retired = new Set<Lease>();

  constructor(private readonly store: LeaseStore) {}

  /**
   * Admit a request whose worst case is `need` against the caller's lease, topping it up from
   * PostgreSQL when short. Refuses only when the database says a cap would be passed.
   */
  async admit(principal: string, buckets: readonly string[], caps: readonly (bigint | null)[], need: bigint, nowMs: number): Promise<LeaseAdmit> {
    // Other caps (the caller's groups changed) or another period: another lease.
    const key = `${principal}\u0000${buckets.join('\u0000')}\u0000${caps.join('\u0000')}`;
    let rotated = false;
    let waiting = false;
    try {
      for (;;) {
        const lease = this.leaseFor(key, principal, buckets, caps);
        if (lease.available() >= need) {
          if (waiting) lease.waitingNeed -= need;
          waiting = false;
          this.take(lease, need, nowMs);
          return { ok: true, lease };
        }
        if (!waiting) {
          lease.waitingNeed += need;
          waiting = true;
        }
        if (lease.granting) {
          // Someone is already topping this lease up: its answer may cover us too.
          await lease.granting.catch(() => undefined);
          continue;
        }
        const short = need - lease.available();
        const want = lease.waitingNeed + need * LEASE_SPARE_REQUESTS;
        lease.asked = true;
        const pending = this.store.grant(lease, short, want > short ? want : short);
        lease.granting = pending;
        let result: GrantResult;
        try {
          result = await pending;
        } finally {
          lease.granting = undefined;
        }
        if (result.granted === -1n) {
          // Forfeited by another replica (this one looked dead): start a fresh lease, once.
          this.retire(lease);
          if (rotated) return { ok: false, forfeited: false, rows: result.rows, available: 0n };
          rotated = true;
          lease.waitingNeed -= need;
          waiting = false;
          continue;
        }
        if (result.granted === 0n) {
          lease.waitingNeed -= need;
          waiting = false;
          return { ok: false, forfeited: false, rows: result.rows, available: lease.available() };
        }
        lease.held += result.granted;
        lease.spentAtGrant = result.rows.map((r) => r.spent);
        lease.settledAtGrant = lease.settledTotal;
      }
    } catch (err) {
      if (waiting) {
        const lease = this.current.get(key);
        if (lease) lease.waitingNeed -= need;
      }
      throw err;
    }
  }

  /**
   * Record a settled request: its worst case leaves the in-flight sum, its real cost leaves the
   * slice. Returns true when the lease should be given back now: nothing is in flight and what is
   * left could not serve another request like this one (it would need a top-up anyway), so the
   * remainder goes back to the pool instead of stranding allowance near a cap.
   */
  settle(lease: Lease, need: bigint, cost: bigint, nowMs: number): boolean {
    lease.inFlight -= need;
    lease.inFlightCount--;
    lease.settledTotal += cost;
    lease.held = cost >= lease.held ? 0n : lease.held - cost;
    lease.lastUsedMs = nowMs;
    if (lease.inFlightCount > 0 || lease.granting || lease.available() >= need) return false;
    if (this.current.get(lease.key) === lease) this.current.delete(lease.key);
    this.retired.delete(lease);
    lease.retiring = true;
    return true;
  }

  /** Stop admitting on `lease`; it closes once idle. */
  retire(lease: Lease): void {
    lease.retiring = true;
    if (this.current.get(lease.key) === lease) this.current.delete(lease.key);
    this.retired.add(lease);
  }

  retireAll(): void {
    for (const l of [...this.current.values()]) this.retire(l);
  }

  /**
   * Leases to close now: retired ones with nothing in flight, and current ones idle for
   * `idleMs` (or all idle ones when `idleMs` is 0, at shutdown). They leave the book.
   */
  takeClosable(nowMs: number, idleMs: number): Lease[] {
    const out: Lease[] = [];
    for (const l of [...this.current.values()]) {
      if (l.inFlightCount === 0 && !l.granting && nowMs - l.lastUsedMs >= idleMs) {
        this.current.delete(l.key);
        out.push(l);
      }
    }
    for (const l of [...this.retired]) {
      if (l.inFlightCount === 0 && !l.granting) {
        this.retired.delete(l);
        out.push(l);
      }
    }
    return out;
  }

  /** Leases PostgreSQL should hold for this replica (granted at least once). */
  held(): Lease[] {
    return [...this.current.values(), ...this.retired].filter((l) => l.asked && !l.granting);
  }

  private leaseFor(key: string, principal: string, buckets: readonly string[], caps: readonly (bigint | null)[]): Lease {
    let lease = this.current.get(key);
    if (!lease) {
      lease = new Lease(key, principal, buckets, caps);
      this.current.set(key, lease);
    }
    return lease;
  }

  private take(lease: Lease, need: bigint, nowMs: number): void {
    lease.inFlight += need;
    lease.inFlightCount++;
    lease.lastUsedMs = nowMs;
  }
}

/**
 * The replica's side of budget leases (spend/leases.ts), against an in-memory store that grants
 * like tollgate_spend_lease: never more than a quarter of the headroom, never less than needed.
 */
import assert from 'node:assert/strict';
import { LeaseBook, LEASE_SPARE_REQUESTS, type GrantResult, type Lease, type LeaseStore } from '../../gateway-server/src/spend/leases';

const BUCKETS = ['d:2026-11-30', 'w:2026-11-30', 'm:2026-11'];
const CAPS = [null, null, 1_000_000_000n];

/** One cap, one counter: what PostgreSQL would decide, and every call it received. */
function fakeStore(cap: bigint) {
  const calls: { need: bigint; want: bigint }[] = [];
  const state = { spent: 0n, reserved: 0n, forfeit: new Set<string>(), gate: undefined as Promise<void> | undefined };
  const store: LeaseStore = {
    async grant(lease: Lease, need: bigint, want: bigint): Promise<GrantResult> {
      calls.push({ need, want });
      await (state.gate ?? Promise.resolve());
      const rows = BUCKETS.map((bucket) => ({ bucket, spent: state.spent, reserved: state.reserved }));
      if (state.forfeit.has(lease.id)) return { granted: -1n, rows };
      const headroom = cap - state.spent - state.reserved;
      if (headroom < need) return { granted: 0n, rows };
      const quarter = headroom / 4n;
      let g = want < quarter ? want : quarter;
      if (g < need) g = need;
      if (g > headroom) g = headroom;
      state.reserved += g;
      return { granted: g, rows: BUCKETS.map((bucket) => ({ bucket, spent: state.spent, reserved: state.reserved })) };
    },
  };
  return { store, calls, state };
}

describe('spend leases (replica side)', () => {
  it('admits from the slice in memory and asks the store only when it runs short', async () => {
    const { store, calls } = fakeStore(1_000_000n);
    const book = new LeaseBook(store);
    const first = await book.admit('alice', BUCKETS, CAPS, 1000n, 0);
    assert.ok(first.ok);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0], { need: 1000n, want: 1000n + 1000n * LEASE_SPARE_REQUESTS });
    // Sequential requests costing less than their worst case never touch the store again.
    book.settle(first.lease, 1000n, 100n, 1);
    for (let i = 0; i < 20; i++) {
      const r = await book.admit('alice', BUCKETS, CAPS, 1000n, 2 + i);
      assert.ok(r.ok);
      book.settle(r.lease, 1000n, 100n, 3 + i);
    }
    assert.equal(calls.length, 1, 'one grant served 21 requests');
    assert.equal(first.lease.settledTotal, 2100n);
    assert.equal(first.lease.held, 5000n - 2100n);
  });

  it('concurrent admissions short of funds share one round trip, and the next grant asks for every waiter', async () => {
    const { store, calls, state } = fakeStore(10_000_000n);
    const book = new LeaseBook(store);
    let open!: () => void;
    state.gate = new Promise((r) => (open = r));
    const pending = Array.from({ length: 10 }, () => book.admit('bob', BUCKETS, CAPS, 1000n, 0));
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.length, 1, 'the others wait for the grant in flight');
    state.gate = undefined;
    open();
    const results = await Promise.all(pending);
    assert.ok(results.every((r) => r.ok));
    // First grant: 1 + 4 spare = 5 requests; the 5 still waiting then go in one more grant.
    assert.equal(calls.length, 2);
    assert.ok(calls[1]!.want >= 5000n, `second grant asks for the waiters: ${calls[1]!.want}`);
    const lease = (results[0] as { lease: Lease }).lease;
    assert.equal(lease.inFlight, 10_000n);
    assert.ok(lease.held >= lease.inFlight, 'in-flight worst cases are always covered by what is held');
  });

  it('near the cap a slice shrinks to one request, and the store refusing is a refusal', async () => {
    const { store } = fakeStore(2500n);
    const book = new LeaseBook(store);
    const a = await book.admit('carol', BUCKETS, CAPS, 1000n, 0);
    const b = await book.admit('carol', BUCKETS, CAPS, 1000n, 0);
    assert.ok(a.ok && b.ok);
    assert.equal(a.lease.held, 2000n, 'two one-request slices, not a quarter each');
    const c = await book.admit('carol', BUCKETS, CAPS, 1000n, 0);
    assert.equal(c.ok, false);
    // Settling frees the worst case minus the real cost for the next request: no store call needed.
    book.settle(a.lease, 1000n, 200n, 1);
    const d = await book.admit('carol', BUCKETS, CAPS, 500n, 2);
    assert.ok(d.ok);
  });

  it('a slice that cannot serve another such request goes back as soon as nothing is in flight', async () => {
    const { store } = fakeStore(10_000n);
    const book = new LeaseBook(store);
    const a = await book.admit('ivy', BUCKETS, CAPS, 2000n, 0);
    const b = await book.admit('ivy', BUCKETS, CAPS, 2000n, 0);
    assert.ok(a.ok && b.ok && a.lease === b.lease);
    // Slices granted: 2 500 (a quarter of 10 000), then 1 875 (a quarter of the 7 500 left).
    assert.equal(a.lease.held, 4375n);
    assert.equal(book.settle(a.lease, 2000n, 1500n, 1), false, 'another request is in flight');
    assert.equal(book.settle(b.lease, 2000n, 1500n, 2), true, 'idle, and the 1 375 left cannot cover another 2 000');
    assert.ok(a.lease.retiring);
    assert.deepEqual(book.takeClosable(3, 60_000), [], 'handed back by the caller of settle, not left for the sweep');
    const c = await book.admit('ivy', BUCKETS, CAPS, 2000n, 4);
    assert.ok(c.ok && c.lease !== a.lease, 'the next request starts a fresh slice');
  });

  it('a forfeited lease is replaced by a fresh one; the old one closes once idle', async () => {
    const { store, state } = fakeStore(1_000_000n);
    const book = new LeaseBook(store);
    const a = await book.admit('dave', BUCKETS, CAPS, 1000n, 0);
    assert.ok(a.ok);
    book.settle(a.lease, 1000n, 300n, 1);
    state.forfeit.add(a.lease.id);
    const big = await book.admit('dave', BUCKETS, CAPS, 100_000n, 2);
    assert.ok(big.ok);
    assert.notEqual(big.lease.id, a.lease.id);
    assert.ok(a.lease.retiring);
    const closable = book.takeClosable(3, 60_000);
    assert.deepEqual(closable.map((l) => l.id), [a.lease.id], 'the retired lease closes; the busy new one stays');
  });

  it('idle leases close after the idle time, busy ones never', async () => {
    const { store } = fakeStore(1_000_000n);
    const book = new LeaseBook(store);
    const a = await book.admit('erin', BUCKETS, CAPS, 1000n, 0);
    const b = await book.admit('frank', BUCKETS, CAPS, 1000n, 0);
    assert.ok(a.ok && b.ok);
    book.settle(a.lease, 1000n, 10n, 10);
    assert.deepEqual(book.takeClosable(100, 1000), []);
    assert.deepEqual(book.takeClosable(1010, 1000).map((l) => l.principal), ['erin']);
    assert.deepEqual(book.takeClosable(999_999, 0), [], 'frank has a request in flight');
    assert.deepEqual(book.held().map((l) => l.principal), ['frank']);
  });

  it('other caps (the caller changed groups) get another lease', async () => {
    const { store, calls } = fakeStore(1_000_000n);
    const book = new LeaseBook(store);
    const a = await book.admit('hank', BUCKETS, CAPS, 1000n, 0);
    const b = await book.admit('hank', BUCKETS, [50_000n, null, 1_000_000_000n], 1000n, 1);
    assert.ok(a.ok && b.ok);
    assert.notEqual(a.lease.id, b.lease.id);
    assert.deepEqual(b.lease.caps, [50_000n, null, 1_000_000_000n]);
    assert.equal(calls.length, 2);
  });

  it('a lease per period set: a new day starts a new lease', async () => {
    const { store, calls } = fakeStore(1_000_000n);
    const book = new LeaseBook(store);
    const a = await book.admit('gina', BUCKETS, CAPS, 1000n, 0);
    const b = await book.admit('gina', ['d:2026-12-01', 'w:2026-11-30', 'm:2026-12'], CAPS, 1000n, 1);
    assert.ok(a.ok && b.ok);
    assert.notEqual(a.lease.id, b.lease.id);
    assert.equal(calls.length, 2);
  });
});

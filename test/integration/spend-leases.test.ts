/**
 * Budget leases (enforcement.reservation: lease, the default) in one gateway on real PostgreSQL
 * and on PGlite: how often the store is asked, that settlements ride in the audit transaction,
 * that a changed cap applies at once, that a forfeit its holder outlived is refunded to the real
 * total, and that a settlement lost with the database is repaired by the next one.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { waitFor } from '../support/wait';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { LEASE_TTL_MS, reconcileLeases } from '../../gateway-server/src/spend/feature';
import type { Db } from '../../gateway-server/src/store/db';
import { myRequestsResponseSchema } from '../../gateway-server/src/protocol/me';
import { ReservingSpendGate } from '../../gateway-server/src/spend/gate';
import { SettleQueue } from '../../gateway-server/src/spend/settle-queue';
import { PriceBook } from '../../gateway-server/src/spend/pricing';
import type { LimitCache } from '../../gateway-server/src/spend/limit-cache';
import { emptyUsage } from '../../gateway-server/src/inference/usage-tap';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
// Mock usage 25 in + 300 out of Sonnet: 75 + 4500 µ$.
const PRICED = 4575n;

/** The database, counting the statements the gateway sends (by what they call). */
function counting(db: Db) {
  const seen: string[] = [];
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') return (sql: string, params?: unknown[]) => (seen.push(sql), target.query(sql, params));
      return Reflect.get(target, prop, receiver);
    },
  });
  const count = (re: RegExp) => seen.filter((s) => re.test(s)).length;
  return { db: proxy, seen, count };
}

for (const kind of storeKinds()) {
  describe(`spend leases (${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let counted: ReturnType<typeof counting>;
    let gw: TestGateway | undefined;

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic();
      tdb = await createTestDatabase(kind);
      counted = counting(tdb.db);
    });
    afterEach(async () => {
      await gw?.close();
      gw = undefined;
    });
    after(async () => {
      await tdb?.drop();
      await mock?.close();
    });

    const start = async () => {
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      });
      gw = await startTestGateway({ config, db: counted.db });
      return gw;
    };
    const setLimit = async (g: TestGateway, user: string, cents: string) => {
      const r = await fetch(`${g.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: user }, amount: cents, period: 'daily' }),
      });
      assert.equal(r.status, 200);
      await waitFor(`${user}'s cap of ${cents} cents is in force`, async () => {
        const e = await fetch(`${g.url}/v1/organizations/spend_limits/effective?user_ids[]=${user}&period[]=daily`, { headers: { 'x-api-key': WRITE_KEY } });
        return ((await e.json()) as { data: { amount: string | null }[] }).data[0]?.amount === cents;
      });
    };
    const ask = async (g: TestGateway, sub: string, maxTokens = 400) => {
      const r = await fetch(`${g.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${g.mint({ sub })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await r.text();
      return r;
    };
    const books = async (sub: string) => {
      const { rows: c } = await tdb.db.query<{ spent_micros: string; reserved_micros: string }>('SELECT spent_micros, reserved_micros FROM spend_counters WHERE principal = $1', [sub]);
      const { rows: l } = await tdb.db.query<{ s: string | null }>('SELECT sum(cost_micros)::text AS s FROM spend_ledger WHERE principal = $1', [sub]);
      return { counters: c.map((r): [bigint, bigint] => [BigInt(r.spent_micros), BigInt(r.reserved_micros)]), ledger: BigInt(l[0]!.s ?? 0) };
    };

    it('twenty sequential requests of a capped caller: three grants; every settlement carried by the audit write', async () => {
      const g = await start();
      await setLimit(g, 'steady', '100000');
      mock.defaults = { reply: { inputTokens: 25, outputTokens: 300 } };
      const from = counted.seen.length;
      for (let i = 0; i < 20; i++) assert.equal((await ask(g, 'steady')).status, 200);
      const sent = counted.seen.slice(from);
      // A slice is the worst case plus 4 spare (5 × ~9 300 µ$); each request really costs 4 575 µ$,
      // so a slice lasts about nine requests: three grants for twenty, none of them on a hit.
      assert.equal(sent.filter((s) => /tollgate_spend_lease\(/.test(s)).length, 3, 'a grant round trip only when the slice runs out');
      assert.equal(sent.filter((s) => /tollgate_spend_reserve/.test(s)).length, 0);
      if (kind === 'postgres') {
        // Audit row and settlement in one statement message: one write (one transaction) per request.
        const carried = sent.filter((s) => /tollgate_audit_insert\(/.test(s) && /tollgate_spend_apply\(/.test(s)).length;
        assert.equal(carried, 20);
        assert.equal(sent.filter((s) => /^SELECT tollgate_spend_apply\(\$1/.test(s)).length, 0, 'no settlement written on its own');
      }
      const b = await books('steady');
      assert.equal(b.ledger, 20n * PRICED);
      for (const [spent] of b.counters) assert.equal(spent, 20n * PRICED);
      await gw!.close();
      gw = undefined;
      for (const [, reserved] of (await books('steady')).counters) assert.equal(reserved, 0n, 'the lease went back at shutdown');
    });

    it('GET /v1/me/requests lists the caller\'s own requests, newest first, with what each was charged', async () => {
      const g = await start();
      await setLimit(g, 'lister', '100000');
      mock.defaults = { reply: { inputTokens: 25, outputTokens: 300 } };
      for (let i = 0; i < 3; i++) assert.equal((await ask(g, 'lister')).status, 200);
      assert.equal((await ask(g, 'someone-else')).status, 200);
      const res = await fetch(`${g.url}/v1/me/requests?limit=2`, { headers: { authorization: `Bearer ${g.mint({ sub: 'lister' })}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = myRequestsResponseSchema.parse(await res.json());
      assert.equal(body.data.length, 2);
      for (const r of body.data) {
        assert.deepEqual([r.model, r.status, r.outcome, r.input_tokens, r.output_tokens, r.cost_micros], ['claude-sonnet-4-6', 200, 'ok', 25, 300, Number(PRICED)]);
        assert.ok(r.request_id);
      }
      assert.ok(body.data[0]!.at >= body.data[1]!.at, 'newest first');
      assert.equal((await fetch(`${g.url}/v1/me/requests`)).status, 401);
      const bad = await fetch(`${g.url}/v1/me/requests?limit=0`, { headers: { authorization: `Bearer ${g.mint({ sub: 'lister' })}` } });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    });

    it('a lowered cap applies to the very next request, although a lease was held', async () => {
      const g = await start();
      await setLimit(g, 'lowered', '100000');
      mock.defaults = { reply: { inputTokens: 25, outputTokens: 300 } };
      assert.equal((await ask(g, 'lowered')).status, 200);
      await setLimit(g, 'lowered', '1'); // 10 000 µ$, 4 575 spent: a 400-token worst case (~9 500 µ$) no longer fits
      const r = await ask(g, 'lowered');
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
    });

    it('a forfeit the holder outlived is absorbed by its settlements and refunded on close: the books end at the real cost', async () => {
      const g = await start();
      await setLimit(g, 'sleepy', '100000');
      mock.defaults = { reply: { inputTokens: 25, outputTokens: 300 } };
      assert.equal((await ask(g, 'sleepy')).status, 200);
      // Another replica decides this one is dead (its lease is past the TTL) and forfeits the slice.
      assert.equal(await reconcileLeases(tdb.db, Date.now() + LEASE_TTL_MS + 1000), 1);
      const forfeited = await books('sleepy');
      assert.ok(forfeited.counters.every(([spent, reserved]) => spent > PRICED && reserved === 0n), 'the whole slice is charged meanwhile');
      assert.equal(forfeited.ledger, forfeited.counters[0]![0]);
      // The holder was alive: its next admission learns of the forfeit and starts a fresh lease.
      assert.equal((await ask(g, 'sleepy')).status, 200);
      await gw!.close();
      gw = undefined;
      const end = await books('sleepy');
      assert.deepEqual(end.counters, [[2n * PRICED, 0n], [2n * PRICED, 0n], [2n * PRICED, 0n]]);
      assert.equal(end.ledger, 2n * PRICED, 'ledger and counters agree');
    });

    it('a lease given back during a store outage is retried until it lands: nothing stays reserved, nothing is forfeited', async function () {
      this.timeout(20_000);
      const state = { broken: false };
      const flaky = new Proxy(tdb.db, {
        get(target, prop, receiver) {
          if (prop === 'query') return (sql: string, params?: unknown[]) => (state.broken && /"k":"close"/.test(`${sql} ${(params ?? []).join(' ')}`) ? Promise.reject(new Error('simulated outage')) : target.query(sql, params));
          return Reflect.get(target, prop, receiver);
        },
      }) as Db;
      const now = () => Date.now();
      const warnings: string[] = [];
      const log = { warn: (_o: object, msg: string) => void warnings.push(msg), error: (_o: object, msg: string) => void warnings.push(msg) };
      const limits = { rows: [{ id: 'spl_x', scopeType: 'user', scopeId: 'outage', period: 'monthly', amountCents: 10_000n, isEnabled: true }] } as unknown as LimitCache;
      const gate = new ReservingSpendGate({
        db: flaky, clock: { now }, limits, prices: new PriceBook([], 1), queue: new SettleQueue(flaky, now), mode: 'hard', reservation: 'lease',
        holder: 'test-holder', leaseTtlMs: 60_000, groupLimitMode: 'min', failClosed: false, blockedMessage: '', reservationTtlMs: 3_600_000, storeTimeoutMs: 2_000, log, seen: () => {},
      });
      const body = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [] };
      const admission = await gate.admit({ principal: { sub: 'outage', groups: [] } as never, model: body.model, body, rawBodyBytes: 60, requestId: 'req-outage' });
      const cost = await admission.settle({ usage: { ...emptyUsage(), input_tokens: 10, output_tokens: 20 }, upstream: 'anthropic', aborted: false, outputChars: 0, status: 200 });
      await admission.committed!();
      state.broken = true;
      gate.leases.retireAll();
      assert.equal(gate.closeIdleLeases(0), 1);
      await waitFor('the lease close failed and is retried', () => warnings.some((w) => /retrying/.test(w)));
      assert.equal((await tdb.db.query("SELECT id FROM spend_leases WHERE principal = 'outage'")).rows.length, 1, 'the close failed: still held');
      state.broken = false;
      await waitFor('the retried close removed the lease', async () => (await tdb.db.query("SELECT id FROM spend_leases WHERE principal = 'outage'")).rows.length === 0);
      const b = await books('outage');
      assert.deepEqual(b.counters, Array(3).fill([BigInt(cost), 0n]));
      assert.equal(b.ledger, BigInt(cost));
    });

    it('a settlement batch lost with the database is repaired by the next one (cumulative totals)', async () => {
      const db = tdb.db;
      const buckets = ['d:2026-01-05', 'm:2026-01', 'w:2026-01-05'];
      const now = new Date().toISOString();
      const later = new Date(Date.now() + 60_000).toISOString();
      const { rows } = await db.query<{ granted: string }>('SELECT * FROM tollgate_spend_lease($1, $2, $3, $4::text[], $5::bigint[], $6, $7, $8, $9)', [
        'lse_lost',
        'lost-batch',
        'test-holder',
        buckets,
        [null, '1000000', null],
        '10000',
        '50000',
        now,
        later,
      ]);
      assert.equal(rows[0]!.granted, '50000');
      const item = (id: string, cost: number, total: number) => ({ k: 'lease', lease: 'lse_lost', principal: 'lost-batch', buckets, id, cost: String(cost), total: String(total), estimated: false, request_id: id, model: 'm', upstream: null, usage: {} });
      // Batch 1 (items a, b) never reaches disk; batch 2 carries the lease's total including them.
      await db.query('SELECT tollgate_spend_apply($1::jsonb, $2::timestamptz)', [JSON.stringify([item('c', 300, 900)]), now]);
      const { rows: c } = await db.query<{ spent_micros: string; reserved_micros: string }>("SELECT spent_micros, reserved_micros FROM spend_counters WHERE principal = 'lost-batch' ORDER BY bucket");
      assert.deepEqual(c.map((r) => [r.spent_micros, r.reserved_micros]), Array(3).fill(['900', String(50_000 - 900)]));
      // Replaying a batch changes nothing; closing releases the rest.
      await db.query('SELECT tollgate_spend_apply($1::jsonb, $2::timestamptz)', [JSON.stringify([item('c', 300, 900), { k: 'close', lease: 'lse_lost', principal: 'lost-batch', buckets, total: '900' }]), now]);
      const { rows: e } = await db.query<{ spent_micros: string; reserved_micros: string }>("SELECT spent_micros, reserved_micros FROM spend_counters WHERE principal = 'lost-batch'");
      assert.deepEqual(e.map((r) => [r.spent_micros, r.reserved_micros]), Array(3).fill(['900', '0']));
      assert.equal((await db.query("SELECT id FROM spend_leases WHERE id = 'lse_lost'")).rows.length, 0);
    });
  });
}

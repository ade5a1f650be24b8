/**
 * admin.spend_retention_months and admin.identity_retention_days: the gateway's own retention
 * timer (shortened with TOLLGATE_RETENTION_EVERY_MS) deletes ledger rows older than the spend
 * window, counters of periods that ended before it (not those with open reservations), and
 * principals not seen within the identity window; everything newer stays. PostgreSQL and PGlite.
 */
import assert from 'node:assert/strict';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import pg from 'pg';
import { monthsBefore, pruneSpendRetention, SPEND_RETENTION_LOCK_KEY } from '../../gateway-server/src/spend/retention';

const NOW = Date.parse('2026-03-31T12:00:00Z');
const DAY = 86_400_000;

async function seed(tdb: TestDatabase): Promise<void> {
  const ledger: [string, string][] = [
    ['l-old', '2025-02-27T23:59:59Z'], // older than 13 months before 2026-03-31 (2025-02-28 12:00)
    ['l-edge', '2025-02-28T12:00:01Z'],
    ['l-new', '2026-03-30T00:00:00Z'],
  ];
  for (const [id, at] of ledger) {
    await tdb.db.query(`INSERT INTO spend_ledger (id, principal, cost_micros, buckets, at) VALUES ($1, 'u1', 5, ARRAY['d:x'], $2)`, [id, at]);
  }
  const counters: [string, number][] = [
    ['d:2025-02-26', 0], // ended 02-27: gone
    ['d:2025-02-28', 0], // ends 03-01, after the cutoff day: kept
    ['w:2025-02-16', 0], // ended 02-23: gone
    ['w:2025-02-23', 0], // ends 03-02: kept
    ['m:2025-01', 0], // ended 02-01: gone
    ['m:2025-02', 0], // ends 03-01: kept
    ['m:2024-12', 7], // an open reservation keeps it
    ['m:2026-03', 0],
  ];
  for (const [bucket, reserved] of counters) {
    await tdb.db.query(`INSERT INTO spend_counters (principal, bucket, spent_micros, reserved_micros) VALUES ('u1', $1, 10, $2)`, [bucket, reserved]);
  }
  const principals: [string, number][] = [
    ['p-gone', NOW - 91 * DAY],
    ['p-kept', NOW - 89 * DAY],
    ['p-today', NOW],
  ];
  for (const [sub, at] of principals) {
    await tdb.db.query(`INSERT INTO spend_principals (sub, email, groups, last_seen) VALUES ($1, $1 || '@example.com', '[]', $2)`, [sub, new Date(at).toISOString()]);
  }
}

async function contents(tdb: TestDatabase) {
  const q = async (sql: string) => (await tdb.db.query<{ k: string }>(sql)).rows.map((r) => r.k);
  return {
    ledger: await q('SELECT id AS k FROM spend_ledger ORDER BY id'),
    counters: await q('SELECT bucket AS k FROM spend_counters ORDER BY bucket'),
    principals: await q('SELECT sub AS k FROM spend_principals ORDER BY sub'),
  };
}

const EXPECTED = {
  ledger: ['l-edge', 'l-new'],
  counters: ['d:2025-02-28', 'm:2024-12', 'm:2025-02', 'm:2026-03', 'w:2025-02-23'],
  principals: ['p-kept', 'p-today'],
};

describe('spend and identity retention', () => {
  it('counts calendar months back, clamped to the month end', () => {
    assert.equal(monthsBefore(new Date('2026-03-31T12:00:00Z'), 13).toISOString(), '2025-02-28T12:00:00.000Z');
    assert.equal(monthsBefore(new Date('2026-01-15T00:00:00Z'), 1).toISOString(), '2025-12-15T00:00:00.000Z');
    assert.equal(monthsBefore(new Date('2024-03-30T06:30:00Z'), 1).toISOString(), '2024-02-29T06:30:00.000Z');
  });

  for (const kind of storeKinds()) {
    describe(kind, function () {
      this.timeout(60_000);
      let tdb: TestDatabase;
      let gw: TestGateway | undefined;
      beforeEach(async () => {
        tdb = await createTestDatabase(kind);
        await seed(tdb);
      });
      afterEach(async () => {
        delete process.env.TOLLGATE_RETENTION_EVERY_MS;
        await gw?.close();
        gw = undefined;
        await tdb.drop();
      });

      it('the running gateway prunes what the admin retention keys say, and only that', async () => {
        process.env.TOLLGATE_RETENTION_EVERY_MS = '20';
        gw = await startTestGateway({
          db: tdb.db,
          clock: { now: () => NOW },
          config: testConfig({ admin: { spend_retention_months: 13, identity_retention_days: 90 } }),
        });
        for (;;) {
          const c = await contents(tdb);
          if (c.ledger.length === EXPECTED.ledger.length && c.principals.length === EXPECTED.principals.length && c.counters.length === EXPECTED.counters.length) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(await contents(tdb), EXPECTED);
      });

      it('honours other values, and a second run deletes nothing more', async () => {
        const settings = { spend_retention_months: 1, identity_retention_days: 1 };
        const first = await pruneSpendRetention(tdb.db, settings, NOW);
        assert.deepEqual(first, { ran: true, ledger: 2, counters: 6, principals: 2 });
        assert.deepEqual(await contents(tdb), { ledger: ['l-new'], counters: ['m:2024-12', 'm:2026-03'], principals: ['p-today'] });
        assert.deepEqual(await pruneSpendRetention(tdb.db, settings, NOW), { ran: true, ledger: 0, counters: 0, principals: 0 });
      });

      if (kind === 'postgres') {
        it('lets one replica at a time do the work (advisory lock)', async () => {
          const other = new pg.Client({ connectionString: tdb.url });
          await other.connect();
          try {
            await other.query('SELECT pg_advisory_lock($1)', [SPEND_RETENTION_LOCK_KEY]);
            const settings = { spend_retention_months: 13, identity_retention_days: 90 };
            assert.deepEqual(await pruneSpendRetention(tdb.db, settings, NOW), { ran: false, ledger: 0, counters: 0, principals: 0 });
            assert.equal((await contents(tdb)).ledger.length, 3, 'nothing deleted while another replica holds the lock');
            await other.query('SELECT pg_advisory_unlock($1)', [SPEND_RETENTION_LOCK_KEY]);
            assert.equal((await pruneSpendRetention(tdb.db, settings, NOW)).ran, true);
            assert.deepEqual(await contents(tdb), EXPECTED);
          } finally {
            await other.end();
          }
        });
      }
    });
  }
});

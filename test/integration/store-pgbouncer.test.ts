/**
 * Two gateway replicas whose store goes through a real PgBouncer in transaction pooling mode (four
 * server connections shared by both pools of ten), as docs/scaling.md advises past a few hundred
 * connections: migrations, inference with hard caps and audit, the admin API, and settlements
 * all work through it; `store.listen_url` keeps cross-replica notifications on a direct
 * connection, and `tollgate-gateway check` says when notifications would not get through.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createPostgresDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer';
import { openStore } from '../../gateway-server/src/store/open';
import { checkDatabase } from '../../gateway-server/src/ops/checks';
import type { Db } from '../../gateway-server/src/store/db';

const WRITE_KEY = 'pool-admin-write-key-0123456789abcdef';
const USER = 'pooled-user';

describe('store through PgBouncer (transaction pooling)', function () {
  this.timeout(90_000);
  let mock: MockAnthropic;
  let database: { url: string; drop(): Promise<void> };
  let bouncer: PgBouncer;
  const replicas: { gw: TestGateway; db: Db }[] = [];
  let direct: pg.Client;

  const config = (store: Record<string, unknown>) =>
    testConfig({
      store: { max_connections: 10, ...store },
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      managed: { policies: [{ name: 'everyone', match: {}, cli: { availableModels: ['claude-sonnet-4-6'] } }] },
      admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      enforcement: { mode: 'hard' },
    });

  before(async function () {
    this.timeout(60_000);
    mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    database = await createPostgresDatabase();
    bouncer = await startPgBouncer({ poolMode: 'transaction', poolSize: 4 });
    for (let i = 0; i < 2; i++) {
      // Migrations (under a transaction-scoped advisory lock) run through the bouncer too.
      const c = config({ postgres_url: bouncer.via(database.url), listen_url: database.url });
      const db = await openStore(c);
      replicas.push({ gw: await startTestGateway({ config: c, db }), db });
    }
    direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
  });
  after(async () => {
    for (const r of replicas) {
      await r.gw.close();
      await r.db.close();
    }
    await direct?.end();
    await bouncer?.close();
    await database?.drop();
    await mock?.close();
  });

  const client = (gw: TestGateway) => new Anthropic({ baseURL: gw.url, authToken: gw.mint({ sub: USER }), apiKey: null, maxRetries: 0 });
  const setCap = async (gw: TestGateway, cents: string) => {
    const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: USER }, amount: cents, period: 'daily' }),
    });
    assert.equal(r.status, 200, await r.text());
  };

  it('serves, meters and audits 60 concurrent requests across both replicas, on four server connections', async () => {
    await setCap(replicas[0]!.gw, '100000');
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, async (_, i) => {
        const sdk = client(replicas[i % 2]!.gw);
        const params = { model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user' as const, content: `hi ${i}` }] };
        if (i % 3 === 0) return (await sdk.messages.stream(params).finalMessage()).type;
        return (await sdk.messages.create(params)).type;
      }),
    );
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
    const q = async (sql: string) => (await direct.query<{ n: string }>(sql)).rows[0]!.n;
    assert.equal(await q("SELECT count(*) AS n FROM audit_log WHERE event = 'inference' AND outcome = 'ok'"), '60', 'one audit row per request');
    assert.equal(await q('SELECT count(*) AS n FROM spend_ledger'), '60', 'one ledger row per request');
    assert.equal(
      await q('SELECT sum(cost_micros)::text AS n FROM spend_ledger'),
      await q("SELECT sum(cost_micros)::text AS n FROM audit_log WHERE event = 'inference'"),
      'the ledger charges what the audit trail records',
    );
    // Through the bouncer: at most its four server connections, plus each replica's direct listener and ours.
    const conns = Number(await q(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()`));
    assert.ok(conns <= 4 + 2 + 1, `${conns} server connections`);
  });

  it('a cap set on one replica stops the user on the other at once (NOTIFY over store.listen_url)', async () => {
    await setCap(replicas[0]!.gw, '0');
    const deadline = Date.now() + 3000; // the periodic reload alone would take up to 30 s
    let status = 0;
    while (Date.now() < deadline) {
      try {
        await client(replicas[1]!.gw).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'again' }] });
      } catch (err) {
        status = (err as { status?: number }).status ?? 0;
        if (status === 429) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 429);
  });

  it('check warns when notifications sent through the pooler never arrive, and passes with store.listen_url', async () => {
    const pooled = await checkDatabase(config({ postgres_url: bouncer.via(database.url) }), 5000);
    const line = pooled.find((l) => l.name === 'notifications');
    assert.equal(line?.status, 'warn', JSON.stringify(pooled));
    assert.match(line!.detail, /transaction-pooling proxy[\s\S]*store\.listen_url/);
    const split = await checkDatabase(config({ postgres_url: bouncer.via(database.url), listen_url: database.url }), 5000);
    assert.equal(split.find((l) => l.name === 'notifications')?.status, 'ok', JSON.stringify(split));
    const plain = await checkDatabase(config({ postgres_url: database.url }), 5000);
    assert.equal(plain.find((l) => l.name === 'notifications')?.status, 'ok', JSON.stringify(plain));
  });
});

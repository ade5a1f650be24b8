/**
 * `store.read_url`: admin reads that tolerate lag (audit queries and exports, /v1/me/requests,
 * the spend summary) go to a real streaming replica, writes never do, and a failed replica costs
 * nothing but a fallback to the primary. The primary and its hot standby are real PostgreSQL
 * servers started for this test (test/support/replica.ts); pausing the standby's replay shows
 * which server answered.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import pg from 'pg';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startReplicatedCluster, type ReplicatedCluster } from '../support/replica';
import { openStore } from '../../gateway-server/src/store/open';
import { checkDatabase } from '../../gateway-server/src/ops/checks';
import type { Db } from '../../gateway-server/src/store/db';
import { waitFor } from '../support/wait';

const ADMIN_KEY = 'replica-admin-write-key-0123456789abcdef';

describe('store.read_url (read replica)', function () {
  this.timeout(90_000);
  let cluster: ReplicatedCluster;
  let mock: MockAnthropic;
  let db: Db;
  let gw: TestGateway;
  let standby: pg.Client;
  const logged: string[] = [];

  const config = (store: Record<string, unknown>) =>
    testConfig({
      store,
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
    });

  before(async function () {
    this.timeout(60_000);
    cluster = await startReplicatedCluster();
    mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    const c = config({ postgres_url: cluster.primaryUrl, read_url: cluster.replicaUrl });
    db = await openStore(c, (m) => logged.push(m));
    gw = await startTestGateway({ config: c, db });
    standby = new pg.Client({ connectionString: cluster.replicaUrl });
    await standby.connect();
  });
  after(async () => {
    await gw?.close();
    await db?.close();
    await standby?.end().catch(() => {});
    await mock?.close();
    cluster?.close();
  });

  const ask = async (n: number) => {
    const sdk = new Anthropic({ baseURL: gw.url, authToken: gw.mint({ sub: 'replica-user' }), apiKey: null, maxRetries: 0 });
    for (let i = 0; i < n; i++) await sdk.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: `hi ${i}` }] });
  };
  const auditCount = async () => {
    const r = await fetch(`${gw.url}/v1/organizations/audit?event=inference&limit=1000`, { headers: { 'x-api-key': ADMIN_KEY } });
    assert.equal(r.status, 200);
    return ((await r.json()) as { data: unknown[] }).data.length;
  };
  const myRequests = async () => {
    const r = await fetch(`${gw.url}/v1/me/requests?limit=100`, { headers: { authorization: `Bearer ${gw.mint({ sub: 'replica-user' })}` } });
    return ((await r.json()) as { data: unknown[] }).data.length;
  };
  const eventually = (fn: () => Promise<boolean>, what: string) => waitFor(what, fn, { intervalMs: 50 });

  it('reads the audit trail from the standby: paused replay hides new rows until it resumes; writes go to the primary', async () => {
    await ask(5);
    await eventually(async () => (await auditCount()) === 5, 'the standby to replay 5 rows');
    await standby.query('SELECT pg_wal_replay_pause()');
    try {
      await ask(3); // inference, audit and spend writes all succeed: they go to the primary
      // Each audit row was committed on the primary before its response ended: a read served by the
      // primary would count 8 now, so no wait is needed for the reads below to tell the two apart.
      assert.equal(await auditCount(), 5, 'the admin query answered from the paused standby');
      assert.equal(await myRequests(), 5, '/v1/me/requests too');
    } finally {
      await standby.query('SELECT pg_wal_replay_resume()');
    }
    await eventually(async () => (await auditCount()) === 8, 'the standby to catch up');
    assert.equal(await myRequests(), 8);
  });

  it('check reports the standby and its lag', async () => {
    const lines = await checkDatabase(config({ postgres_url: cluster.primaryUrl, read_url: cluster.replicaUrl }), 5000);
    const line = lines.find((l) => l.name === 'read replica');
    assert.equal(line?.status, 'ok', JSON.stringify(lines));
    assert.match(line!.detail, /hot standby/);
    const notReplica = await checkDatabase(config({ postgres_url: cluster.primaryUrl, read_url: cluster.primaryUrl }), 5000);
    assert.equal(notReplica.find((l) => l.name === 'read replica')?.status, 'warn');
  });

  it('a stopped replica costs admin reads nothing: they fall back to the primary, with one warning', async () => {
    await standby.end().catch(() => {});
    cluster.stopReplica();
    await ask(1);
    assert.equal(await auditCount(), 9, 'answered by the primary, current');
    assert.equal(await myRequests(), 9);
    assert.equal(logged.filter((m) => /read replica failed/.test(m)).length, 1);
  });
});

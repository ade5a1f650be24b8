/**
 * When a new cap binds, across three replicas sharing one PostgreSQL (PGlite is embedded in one
 * process, so it has no other replicas): on the replica that accepted the POST, the very next
 * request; on the others, as soon as the NOTIFY arrives. The propagation time is measured by
 * polling with requests the cap must refuse (a 1-cent cap: even lowered to enforcement.min_output_tokens,
 * 1024 output tokens cost more) and printed;
 * docs/spend.md states the bound. No wall-clock assertion: speed belongs in `npm run bench`.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { openPostgres } from '../../gateway-server/src/store/postgres';
import type { Db } from '../../gateway-server/src/store/db';
import { waitFor } from '../support/wait';

const WRITE_KEY = 'wk-propagation-0123456789abcdef01234567';

describe('a new cap binds on every replica (postgres, three replicas)', function () {
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  const dbs: Db[] = [];
  const gws: TestGateway[] = [];

  before(async function () {
    this.timeout(120_000);
    mock = await startMockAnthropic();
    tdb = await createTestDatabase('postgres');
    for (let i = 0; i < 3; i++) {
      const db = await openPostgres({ url: tdb.url!, maxConnections: 5, connectTimeoutSeconds: 5 });
      dbs.push(db);
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      });
      gws.push(await startTestGateway({ config, db }));
    }
  });
  after(async () => {
    for (const g of gws) await g.close();
    for (const d of dbs) await d.close();
    await tdb?.drop();
    await mock?.close();
  });

  const huge = async (g: TestGateway, sub: string) => {
    const r = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${g.mint({ sub })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 1e12, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.text();
    return r.status;
  };

  it('binds the next request on the accepting replica and, within the NOTIFY delay, on the others', async () => {
    const delays: number[] = [];
    for (let round = 0; round < 9; round++) {
      const sub = `prop-${round}`;
      const via = gws[round % 3]!;
      // Before the cap every replica admits the request (the mock answers with a few tokens).
      for (const g of gws) assert.equal(await huge(g, sub), 200, 'uncapped before the POST');
      const r = await fetch(`${via.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: sub }, amount: '1', period: 'daily' }),
      });
      assert.equal(r.status, 200, await r.text());
      const posted = performance.now();
      assert.equal(await huge(via, sub), 429, `round ${round}: the replica that accepted the cap refuses the next request`);
      for (const g of gws.filter((x) => x !== via)) {
        await waitFor(`replica ${g.url} refuses ${sub}`, async () => (await huge(g, sub)) === 429, { intervalMs: 2 });
        delays.push(performance.now() - posted);
      }
    }
    delays.sort((a, b) => a - b);
    console.log(`      cap propagation to other replicas over ${delays.length} observations: median ${delays[delays.length >> 1]!.toFixed(1)} ms, max ${delays[delays.length - 1]!.toFixed(1)} ms`);
  });
});

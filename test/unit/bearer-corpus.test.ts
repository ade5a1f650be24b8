/**
 * Every entry of the bearer fuzz corpus on every bearer route family: an authentication error
 * in the route's protocol shape, never a 5xx. The corpus is built independently of the parser
 * (test/support/bearer-corpus.ts), from the shapes that broke hand-rolled JWT parsing.
 */
import assert from 'node:assert/strict';
import { bearerCorpus } from '../support/bearer-corpus';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, TEST_JWT_SECRET, type TestGateway } from '../support/gateway';
import { rawHttp } from '../support/raw-http';

describe('bearer fuzz corpus', function () {
  this.timeout(120_000);
  let tdb: TestDatabase;
  let gw: TestGateway;

  before(async () => {
    tdb = await createTestDatabase('pglite');
    gw = await startTestGateway({ config: testConfig({ admin: { admin_groups: ['admins'] } }), db: tdb.db });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
  });

  const routes: [string, string, string | undefined][] = [
    ['POST', '/v1/messages', '{"model":"claude-sonnet-4-6","max_tokens":1,"messages":[]}'],
    ['GET', '/v1/models', undefined],
    ['GET', '/managed/settings', undefined],
    ['GET', '/v1/organizations/spend_limits', undefined],
  ];

  it('answers every corpus entry with 401/403 in the Anthropic envelope on every bearer route', async () => {
    const corpus = bearerCorpus(TEST_JWT_SECRET, gw.url);
    assert.ok(corpus.length >= 40, 'corpus is populated');
    const failures: string[] = [];
    for (const [method, path, body] of routes) {
      for (const { name, token } of corpus) {
        const headers: Record<string, string> = { authorization: `Bearer ${token}` };
        if (body) headers['content-type'] = 'application/json';
        const res = await rawHttp(gw.url, method, path, headers, body);
        let shape = false;
        try {
          const parsed = JSON.parse(res.body) as { type?: string; error?: { type?: string } };
          shape = parsed.type === 'error' && typeof parsed.error?.type === 'string';
        } catch {
          shape = false;
        }
        if (![400, 401, 403].includes(res.status) || !shape) failures.push(`${method} ${path} [${name}] -> ${res.status} ${res.body.slice(0, 120)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

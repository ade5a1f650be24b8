/**
 * Two anthropic-upstream keys the config-keys test ties here: `auth.oauth_token` goes upstream as
 * `Authorization: Bearer` (never the caller's own token), and `forward_user_identity` sends the
 * caller's id and e-mail to a proxy of the operator's own (towards Anthropic's host it refuses
 * boot: test/unit/config-keys.test.ts).
 */
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';

describe('anthropic upstream: oauth_token and forward_user_identity', function () {
  this.timeout(60_000);
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  const gateways: TestGateway[] = [];

  before(async () => {
    mock = await startMockAnthropic();
    tdb = await createTestDatabase('pglite');
  });
  after(async () => {
    for (const g of gateways) await g.close();
    await tdb?.drop();
    await mock?.close();
  });

  async function send(upstream: Record<string, unknown>) {
    const gw = await startTestGateway({ db: tdb.db, config: testConfig({ upstreams: [{ name: 'proxy', provider: 'anthropic', base_url: mock.url, ...upstream }] }) });
    gateways.push(gw);
    const token = gw.mint({ sub: 'user-42', email: 'ada@example.com' });
    const before = mock.requests.length;
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: '{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.arrayBuffer();
    assert.equal(mock.requests.length, before + 1);
    return { seen: mock.requests.at(-1)!.headers, token };
  }

  it('sends auth.oauth_token as the bearer, and identity headers only when asked', async () => {
    const { seen, token } = await send({ auth: { oauth_token: 'oat-upstream-secret' }, forward_user_identity: true });
    assert.equal(seen.authorization, 'Bearer oat-upstream-secret');
    assert.notEqual(seen.authorization, `Bearer ${token}`);
    assert.equal(seen['x-api-key'], undefined);
    assert.equal(seen['x-claude-gateway-user-id'], 'user-42');
    assert.equal(seen['x-claude-gateway-user-email'], 'ada@example.com');

    const plain = await send({ auth: { api_key: 'sk-x' } });
    assert.equal(plain.seen['x-api-key'], 'sk-x');
    assert.equal(plain.seen['x-claude-gateway-user-id'], undefined);
    assert.equal(plain.seen['x-claude-gateway-user-email'], undefined);
  });
});

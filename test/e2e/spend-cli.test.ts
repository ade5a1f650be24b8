/**
 * The real Claude Code CLI against a capped user: it must show the gateway's 429 message
 * (which period, when it resets, what to do).
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { runClaude } from '../support/claude-cli';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';

describe('Claude Code CLI against a capped user', function () {
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  let gw: TestGateway;

  before(async function () {
    this.timeout(120_000);
    mock = await startMockAnthropic();
    tdb = await createTestDatabase('postgres');
    const config = testConfig({
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }], blocked_message: 'ask #eng-budget to raise it' },
    });
    gw = await startTestGateway({ config, db: tdb.db });
    const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: 'capped-dev' }, amount: '0', period: 'daily' }),
    });
    assert.equal(r.status, 200);
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await mock?.close();
  });

  it('prints the gateway 429 message and never reaches the upstream', async function () {
    this.timeout(120_000);
    const run = await runClaude({ baseUrl: gw.url, token: gw.mint({ sub: 'capped-dev' }), prompt: 'say hi' });
    const out = run.stdout + run.stderr;
    assert.match(out, /spend limit reached \(daily; resets \d{4}-\d{2}-\d{2} 00:00 UTC\) ask #eng-budget to raise it/, out);
    // What is left and what the request needed (issue 16): the CLI prints the whole message.
    assert.match(out, /\(\$0\.0000 left; this request needs up to \$\d+\.\d+ at max_tokens \d+/, out);
    assert.notEqual(run.code, 0);
    assert.equal(mock.requests.filter((q) => q.url.startsWith('/v1/messages') && !q.url.includes('count_tokens')).length, 0);
  });
});

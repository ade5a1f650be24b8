/**
 * Durability of the audit trail: a gateway process on real PostgreSQL is killed with SIGKILL
 * under load; every request the client saw complete must have its audit row, because the row
 * commits before the response ends. Also: `audit verify` on the bundled CLI after the crash.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { SERVER_BUNDLE, startGatewayProcess, type GatewayProcess } from '../support/process';
import { TEST_JWT_SECRET } from '../support/gateway';

describe('audit durability (gateway process, PostgreSQL)', function () {
  this.timeout(180_000);
  let mock: MockAnthropic;
  let pgdb: { url: string; drop(): Promise<void> };
  let gw: GatewayProcess;

  before(async () => {
    mock = await startMockAnthropic();
    pgdb = await createPostgresDatabase();
    gw = await startGatewayProcess({
      session: { jwt_secret: TEST_JWT_SECRET },
      store: { postgres_url: pgdb.url },
      upstreams: [{ provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-test' } }],
    });
  });
  after(async () => {
    await gw?.stop('SIGKILL');
    await mock?.close();
    await pgdb?.drop();
  });

  it('keeps a row for every request the client saw succeed when the process is killed mid-load', async () => {
    const token = new SessionTokens([TEST_JWT_SECRET], gw.url, 3600).mint({ sub: 'u-load', email: 'load@example.com', groups: ['eng'] }).token;
    const succeeded: string[] = [];
    let attempted = 0;
    let killed = false;
    let n = 0;
    const worker = async () => {
      while (!killed) {
        const id = `dur-${n++}`;
        attempted++;
        try {
          const res = await fetch(`${gw.url}/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-request-id': id },
            body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, stream: n % 2 === 0, messages: [{ role: 'user', content: 'hi' }] }),
          });
          const body = await res.text();
          if (res.status === 200 && (body.includes('message_stop') || body.includes('"type":"message"'))) succeeded.push(id);
        } catch {
          /* the process died under this request: it did not succeed */
        }
      }
    };
    const workers = Array.from({ length: 24 }, worker);
    while (succeeded.length < 300) await new Promise((r) => setTimeout(r, 20));
    gw.child.kill('SIGKILL');
    killed = true;
    await gw.exited;
    await Promise.all(workers);

    const client = new pg.Client({ connectionString: pgdb.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ request_id: string }>(`SELECT request_id FROM audit_log WHERE event = 'inference'`);
      const ids = new Set(rows.map((r) => r.request_id));
      const missing = succeeded.filter((id) => !ids.has(id));
      assert.deepEqual(missing, [], `${missing.length} succeeded requests have no audit row`);
      // Rows may exist for requests whose response the kill cut short; never fewer than the successes.
      assert.ok(ids.size >= succeeded.length);
      process.stdout.write(`      ${attempted} attempted, ${succeeded.length} succeeded, ${ids.size} rows\n`);
    } finally {
      await client.end();
    }

    // The bundled CLI verifies the chain the killed process left behind.
    const verify = spawnSync(process.execPath, [SERVER_BUNDLE, 'audit', 'verify', '--config', gw.configPath], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /no broken links/);
  });
});

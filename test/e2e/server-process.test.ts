/**
 * The bundled server as an operator runs it: `node dist/server/tollgate-gateway.js --config`.
 * Real PostgreSQL, the official SDK, config errors, the PGlite lock file and SIGTERM drain.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { waitFor } from '../support/wait';
import { SERVER_BUNDLE, startGatewayProcess, writeConfig, type GatewayProcess } from '../support/process';
import { TEST_JWT_SECRET } from '../support/gateway';

describe('gateway process', function () {
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

  const mint = (url: string) => new SessionTokens([TEST_JWT_SECRET], url, 3600).mint({ sub: 'u-e2e', email: 'e2e@example.com' }).token;

  it('serves the SDK on real PostgreSQL and readies after migrations', async () => {
    const client = new Anthropic({ baseURL: gw.url, authToken: mint(gw.url), apiKey: null, maxRetries: 0 });
    const msg = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(msg.type, 'message');
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
  });

  it('drains on SIGTERM: the in-flight stream finishes, new requests are refused, exit 0', async () => {
    // The upstream holds the stream after its first event until the drain has been observed.
    let release!: () => void;
    mock.defaults = { holdAfterEvents: 1, release: new Promise<void>((r) => (release = r)) };
    const token = mint(gw.url);
    try {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [] }),
      });
      const reader = res.body!.getReader();
      let text = Buffer.from((await reader.read()).value!).toString('utf8'); // the stream is in flight
      gw.child.kill('SIGTERM');
      const refused = await waitFor('the draining gateway refuses new requests', () =>
        fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' }).then(
          (r) => (r.status === 503 ? 503 : undefined),
          () => 'connection refused' as const,
        ),
      );
      assert.ok(refused === 503 || refused === 'connection refused', `new request got ${refused}`);
      release();
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString('utf8');
      assert.match(text, /event: message_stop/, 'in-flight stream completed');
      assert.equal(await gw.exited, 0);
    } finally {
      release();
      mock.defaults = {};
    }
  });

  it('prints one line per config problem and exits 2, without a stack trace', () => {
    const path = writeConfig({ session: { jwt_secret: 'short' }, upstreams: [], listen: { hots: 1 } });
    const r = spawnSync(process.execPath, [SERVER_BUNDLE, '--config', path], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /configuration is not valid/);
    assert.match(r.stderr, /listen: unknown key "hots"/);
    assert.match(r.stderr, /session.jwt_secret/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  });

  it('refuses a second process on the same embedded data folder with a clear message', async function () {
    this.timeout(180_000);
    const dataDir = join(mkdtempSync(join(tmpdir(), 'tollgate-pglite-')), 'data');
    const cfg = {
      session: { jwt_secret: TEST_JWT_SECRET },
      store: { data_dir: dataDir },
      upstreams: [{ provider: 'anthropic', base_url: mock.url, auth: { api_key: 'k' } }],
    };
    const first = await startGatewayProcess(cfg, { readyTimeoutMs: 120_000 });
    try {
      const second = await startGatewayProcess(cfg, { waitReady: false });
      assert.equal(await second.exited, 2);
      assert.match(second.output(), /already in use by process \d+/);
      const client = new Anthropic({ baseURL: first.url, authToken: mint(first.url), apiKey: null, maxRetries: 0 });
      const msg = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(msg.type, 'message');
    } finally {
      await first.stop();
    }
  });
});

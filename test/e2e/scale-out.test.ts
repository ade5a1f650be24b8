/**
 * Three gateway processes (the bundle, as operators run it) on one real PostgreSQL behind a
 * round-robin load balancer. Replicas share nothing but the database and the session secret,
 * so any replica serves any request, and losing one costs only what was in flight on it.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { startGatewayProcess, type GatewayProcess } from '../support/process';
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy';
import { TEST_JWT_SECRET } from '../support/gateway';

const REPLICAS = 3;

describe('scale-out: three replicas on one PostgreSQL', function () {
  this.timeout(180_000);
  let mock: MockAnthropic;
  let pgdb: { url: string; drop(): Promise<void> };
  let proxy: RoundRobinProxy;
  let replicas: GatewayProcess[] = [];
  let token: string;

  before(async () => {
    mock = await startMockAnthropic({ apiKey: 'sk-upstream' });
    pgdb = await createPostgresDatabase();
    proxy = await startRoundRobinProxy();
    const config = {
      // Every replica answers to the one public URL (the load balancer's): same issuer, same tokens.
      listen: { host: '127.0.0.1', public_url: proxy.url },
      session: { jwt_secret: TEST_JWT_SECRET },
      store: { postgres_url: pgdb.url, max_connections: 5 },
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream' } }],
    };
    // Started together: migrations serialise on the advisory lock, none fails.
    replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startGatewayProcess(config)));
    proxy.backends = replicas.map((r) => ({ host: '127.0.0.1', port: r.port }));
    token = new SessionTokens([TEST_JWT_SECRET], proxy.url, 3600).mint({ sub: 'u-scale', email: 'scale@example.com', groups: ['engineering'] }).token;
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await proxy?.close();
    await mock?.close();
    await pgdb?.drop();
  });
  beforeEach(() => {
    mock.defaults = {};
    mock.queue = [];
  });

  const client = () => new Anthropic({ baseURL: proxy.url, authToken: token, apiKey: null, maxRetries: 0 });

  it('migrates once although three replicas boot at the same moment', async () => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: pgdb.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ version: number; n: string }>('SELECT version, count(*) AS n FROM tollgate_migrations GROUP BY version');
      assert.ok(rows.length > 0);
      assert.ok(rows.every((r) => r.n === '1'));
    } finally {
      await c.end();
    }
  });

  it('serves one session on every replica, round robin, streaming and not', async () => {
    const before = [...proxy.served];
    for (let i = 0; i < 2 * REPLICAS; i++) {
      if (i % 2) {
        const msg = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: `hi ${i}` }] });
        assert.equal(msg.type, 'message');
      } else {
        const stream = client().messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: `hi ${i}` }] });
        const final = await stream.finalMessage();
        assert.equal(final.stop_reason, 'end_turn');
      }
    }
    const served = proxy.served.map((n, i) => n - (before[i] ?? 0));
    assert.deepEqual(served, [2, 2, 2], `requests per replica: ${served.join(', ')}`);
  });

  it('a replica killed mid-stream costs only its own in-flight requests', async () => {
    mock.defaults = { eventDelayMs: 150 };
    const open = async () => {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'long' }] }),
      });
      assert.equal(res.status, 200);
      return { backend: Number(res.headers.get('x-backend')), text: res.text().then((t) => ({ ok: true as const, t }), (err: Error) => ({ ok: false as const, err })) };
    };
    const streams = [await open(), await open(), await open()];
    assert.deepEqual(new Set(streams.map((s) => s.backend)).size, REPLICAS, 'one stream per replica');
    const victim = streams[0]!.backend;
    replicas[victim]!.child.kill('SIGKILL');
    await replicas[victim]!.exited;

    const results = await Promise.all(streams.map((s) => s.text));
    for (const [i, s] of streams.entries()) {
      const r = results[i]!;
      if (s.backend === victim) {
        // Cut, never silently completed.
        assert.ok(!r.ok || !/event: message_stop/.test(r.t), 'the killed replica\'s stream did not complete');
      } else {
        assert.ok(r.ok, `stream on replica ${s.backend} failed: ${!r.ok && r.err.message}`);
        assert.match(r.t, /event: message_stop/);
      }
    }

    // New requests keep working on the survivors.
    mock.defaults = {};
    for (let i = 0; i < REPLICAS; i++) {
      const msg = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'after' }] });
      assert.equal(msg.type, 'message');
    }
  });
});

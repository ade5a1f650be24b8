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
import { completeDeviceSignIn, startTestIdp, type TestIdp } from '../support/test-idp';
import { startGatewayProcess, type GatewayProcess } from '../support/process';
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy';
import { TEST_JWT_SECRET } from '../support/gateway';
import { setSpendLimit } from '../support/spend-limits';
import { waitFor } from '../support/wait';

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

/**
 * The same three replicas with sign-in, hard caps and revocation: state that lives in
 * PostgreSQL (device grants, spend counters and reservations, revocations pushed by
 * LISTEN/NOTIFY) behaves as one gateway whichever replica a request lands on.
 */
describe('scale-out: sign-in, caps and revocation across replicas', function () {
  this.timeout(180_000);
  const ADMIN_KEY = 'scale-admin-key-0123456789abcdef0123456789';
  let mock: MockAnthropic;
  let pgdb: { url: string; drop(): Promise<void> };
  let proxy: RoundRobinProxy;
  let idp: TestIdp;
  let replicas: GatewayProcess[] = [];

  before(async () => {
    mock = await startMockAnthropic({ apiKey: 'sk-upstream' });
    pgdb = await createPostgresDatabase();
    proxy = await startRoundRobinProxy();
    idp = await startTestIdp({ redirectUris: [`${proxy.url}/oauth/callback`] });
    const config = {
      listen: { host: '127.0.0.1', public_url: proxy.url },
      session: { jwt_secret: TEST_JWT_SECRET },
      store: { postgres_url: pgdb.url, max_connections: 5 },
      oidc: idp.oidcConfig({ allowed_email_domains: ['example.com'] }),
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream' } }],
      admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
      enforcement: { mode: 'hard' },
      rate_limits: { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } },
    };
    replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startGatewayProcess(config)));
    proxy.backends = replicas.map((r) => ({ host: '127.0.0.1', port: r.port }));
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await proxy?.close();
    await idp?.close();
    await mock?.close();
    await pgdb?.drop();
  });

  const direct = (i: number) => `http://127.0.0.1:${replicas[i]!.port}`;
  const form = (url: string, fields: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  const ask = (base: string, token: string) =>
    fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });

  /** Device sign-in through the load balancer; the token is fetched from a replica other than the one that started it. */
  async function signIn(login: string): Promise<{ access_token: string; refresh_token: string; startedOn: number; completedOn: number }> {
    const start = await form(`${proxy.url}/oauth/device_authorization`, { surface: 'claude_code' });
    assert.equal(start.status, 200);
    const startedOn = Number(start.headers.get('x-backend'));
    const d = (await start.json()) as { device_code: string; verification_uri_complete: string };
    const page = await completeDeviceSignIn(d.verification_uri_complete, { login });
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /You are signed in/);
    const completedOn = (startedOn + 1) % REPLICAS;
    const tok = await form(`${direct(completedOn)}/oauth/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code });
    const body = (await tok.json()) as { access_token: string; refresh_token: string };
    assert.equal(tok.status, 200, JSON.stringify(body));
    return { ...body, startedOn, completedOn };
  }

  it('a sign-in started on one replica completes on another, and its token works on all', async () => {
    const before = [...proxy.served];
    const t = await signIn('alice');
    assert.notEqual(t.startedOn, t.completedOn);
    const browserLeg = proxy.served.map((n, i) => n - (before[i] ?? 0)).filter((n) => n > 0).length;
    assert.ok(browserLeg >= 2, 'the browser leg itself crossed replicas');
    for (let i = 0; i < REPLICAS; i++) assert.equal((await ask(direct(i), t.access_token)).status, 200, `replica ${i}`);
  });

  it('a hard cap holds across all three replicas under concurrent load', async () => {
    const t = await signIn('bob');
    const sub = (JSON.parse(Buffer.from(t.access_token.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
    const cents = 1;
    // Set through the load balancer; the load starts once every replica enforces the cap.
    await setSpendLimit({ via: proxy.url, enforcedBy: replicas.map((_, i) => direct(i)), adminKey: ADMIN_KEY, userId: sub, amount: String(cents) });
    // ~240 µ$ per reply (25 in + 11 out on Sonnet): 80 concurrent requests want ~2 cents.
    const served = [...proxy.served];
    const results = await Promise.all(Array.from({ length: 80 }, () => ask(proxy.url, t.access_token)));
    const ok = results.filter((r) => r.status === 200).length;
    const blocked = results.filter((r) => r.status === 429);
    await Promise.all(results.map((r) => r.arrayBuffer()));
    assert.ok(ok > 0 && blocked.length > 0, `${ok} served, ${blocked.length} blocked`);
    assert.equal(proxy.served.map((n, i) => n - (served[i] ?? 0)).filter((n) => n > 0).length, REPLICAS, 'load spread on every replica');
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: pgdb.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ spent: string }>('SELECT max(spent_micros) AS spent FROM spend_counters WHERE principal = $1', [sub]);
      assert.ok(Number(rows[0]!.spent) > 0);
      assert.ok(Number(rows[0]!.spent) <= cents * 10_000, `spent ${rows[0]!.spent} µ$ on a ${cents}-cent cap`);
    } finally {
      await c.end();
    }
  });

  it('a revocation on one replica is refused by the others', async () => {
    const t = await signIn('alice');
    for (let i = 0; i < REPLICAS; i++) assert.equal((await ask(direct(i), t.access_token)).status, 200);
    assert.equal((await form(`${direct(0)}/oauth/revoke`, { token: t.access_token, token_type_hint: 'access_token' })).status, 200);
    for (let i = 1; i < REPLICAS; i++) {
      // Propagation is a NOTIFY away: wait for it, without asserting how long it takes.
      const status = await waitFor(`replica ${i} refuses the revoked token`, async () => {
        const r = await ask(direct(i), t.access_token);
        await r.arrayBuffer();
        return r.status === 200 ? undefined : r.status;
      });
      assert.equal(status, 401, `replica ${i} answered ${status}`);
    }
  });
});

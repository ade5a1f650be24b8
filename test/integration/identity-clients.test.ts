/**
 * Identity with real clients and real replicas: the sign-in client module the extension uses,
 * the real Claude Code CLI answering through a session minted by the device flow, revocation
 * reaching a second gateway instance on the same PostgreSQL database, per-IP limits, and claim
 * mapping through userinfo with JSON Pointers.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { completeDeviceSignIn, startGatewayWithIdp, startTestIdp, type TestIdp } from '../support/test-idp';
import { freePort } from '../support/process';
import { runClaude } from '../support/claude-cli';
import { waitFor } from '../support/wait';
import { DeviceFlowClient, DeviceFlowError } from '../../gateway-server/src/protocol/device-flow-client';
import { openPostgres } from '../../gateway-server/src/store/postgres';

const ADMIN_KEY = 'admin-write-key-0123456789abcdef0123456789';
const generous = { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } };
const offset = { ms: 0 };
const clock = { now: () => Date.now() + offset.ms };
/** The client's sleep advances the gateway clock instead of waiting, so polling tests take no real seconds. */
const fakeSleep = async (ms: number) => {
  offset.ms += ms;
};

const form = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });

const ask = (url: string, token: string) =>
  fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
  });

for (const kind of storeKinds()) {
  describe(`identity with real clients and replicas (${kind})`, function () {
    this.timeout(90_000);
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let idp: TestIdp;
    let gwUrl: string;
    let ports: number[];
    let gw: Awaited<ReturnType<typeof startGatewayWithIdp>>;
    const upstreams = () => [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }];

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      ports = [await freePort(), await freePort(), await freePort()];
      idp = await startTestIdp({ redirectUris: ports.map((p) => `http://127.0.0.1:${p}/oauth/callback`) });
      gw = await startGatewayWithIdp({ db: tdb.db, idp, port: ports[0], config: { upstreams: upstreams(), admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] }, rate_limits: generous }, deps: { clock } });
      gwUrl = gw.url;
    });
    after(async () => {
      await gw?.close();
      await idp?.close();
      await tdb?.drop();
      await mock?.close();
    });

    it('the sign-in client module completes the device flow, refreshes and signs out', async () => {
      const client = new DeviceFlowClient({ baseUrl: gwUrl, sleep: fakeSleep, userAgent: 'tollgate-vscode/test' });
      const start = await client.start({ surface: 'vscode' });
      assert.match(start.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
      const signedIn = (async () => {
        await completeDeviceSignIn(start.verification_uri_complete!, { login: 'alice' });
      })();
      // Poll concurrently with the browser leg; pending polls are answered authorization_pending.
      const tokens = await client.poll(start);
      await signedIn;
      assert.equal(tokens.email, 'alice@example.com');
      assert.ok(tokens.refresh_token);
      assert.equal((await ask(gwUrl, tokens.access_token)).status, 200);
      const next = await client.refresh(tokens.refresh_token!);
      assert.equal((await ask(gwUrl, next.access_token)).status, 200);
      assert.equal(await client.revoke(next), true);
      assert.equal((await ask(gwUrl, next.access_token)).status, 401);
      await assert.rejects(client.refresh(next.refresh_token!), (e: DeviceFlowError) => e.code === 'invalid_grant' && !e.transient);
    });

    it('the sign-in client module reports denial and expiry, and honours slow_down', async () => {
      const calls: string[] = [];
      const tracing: typeof fetch = async (input, init) => {
        calls.push(String(init?.body ?? ''));
        return fetch(input, init);
      };
      const client = new DeviceFlowClient({ baseUrl: gwUrl, sleep: fakeSleep, fetch: tracing });
      const denied = await client.start();
      await completeDeviceSignIn(denied.verification_uri_complete!, { login: 'alice', deny: true });
      await assert.rejects(client.poll(denied), (e: DeviceFlowError) => e.code === 'access_denied');
      const expiring = await client.start();
      await assert.rejects(client.poll(expiring), (e: DeviceFlowError) => e.code === 'expired_token');
      // A sleep that does not advance time makes every poll too fast: the client must back off by 5 s each time.
      // The fourth wait is cancelled (the person closed the prompt): three polls, three answers seen.
      const intervals: number[] = [];
      const ac = new AbortController();
      const impatient = new DeviceFlowClient({
        baseUrl: gwUrl,
        sleep: async (ms) => {
          intervals.push(ms);
          if (intervals.length === 4) {
            ac.abort();
            throw ac.signal.reason;
          }
        },
      });
      const s = await impatient.start();
      await assert.rejects(impatient.poll(s, { signal: ac.signal }), (e: DeviceFlowError) => e.code === 'aborted');
      // The first poll is on time (pending); each later one comes at once, gets slow_down and adds 5 s (RFC 8628 §3.5).
      assert.deepEqual(intervals, [5000, 5000, 10000, 15000]);
    });

    it('the real Claude Code CLI answers through the gateway with a session minted by the device flow', async function () {
      this.timeout(120_000);
      const client = new DeviceFlowClient({ baseUrl: gwUrl, sleep: fakeSleep });
      const start = await client.start({ surface: 'claude_code' });
      await completeDeviceSignIn(start.verification_uri_complete!, { login: 'bob' });
      const tokens = await client.poll(start);
      mock.requests.length = 0;
      const run = await runClaude({ baseUrl: gwUrl, token: tokens.access_token, prompt: 'Say hello' });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Hello from the mock upstream\./);
      assert.ok(mock.requests.some((r) => r.url.startsWith('/v1/messages')), 'the CLI reached the upstream through the gateway');
    });

    if (kind === 'postgres') {
      it('revocation reaches a second gateway instance on the same PostgreSQL database', async () => {
        // A second replica behind the same public URL (as behind a load balancer), with its own connection pool.
        const db2 = await openPostgres({ url: tdb.url!, maxConnections: 4, connectTimeoutSeconds: 5 });
        const gw2 = await startGatewayWithIdp({ db: db2, idp, port: ports[1], publicUrl: gwUrl, config: { upstreams: upstreams() }, deps: { clock } });
        const second = `http://127.0.0.1:${ports[1]}`;
        // How fast the NOTIFY arrives is for `npm run bench`; here: it arrives, and the refusal is final.
        const revokedOnSecond = async (token: string, revoke: () => Promise<Response>) => {
          assert.equal((await ask(second, token)).status, 200);
          assert.equal((await revoke()).status, 200);
          const res = await waitFor('the second instance refuses the revoked session', async () => {
            const r = await ask(second, token);
            await r.arrayBuffer();
            return r.status === 401 ? r : undefined;
          });
          assert.equal(res.headers.get('x-should-retry'), 'false');
        };
        try {
          const signIn = async (login: string) => {
            const client = new DeviceFlowClient({ baseUrl: gwUrl, sleep: fakeSleep });
            const start = await client.start();
            await completeDeviceSignIn(start.verification_uri_complete!, { login });
            return client.poll(start);
          };
          const alice = await signIn('alice');
          await revokedOnSecond(alice.access_token, () => form(`${gwUrl}/oauth/revoke`, { token: alice.access_token }));
          const bob = await signIn('bob');
          await revokedOnSecond(bob.access_token, () =>
            fetch(`${gwUrl}/v1/organizations/users/bob/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } }),
          );
        } finally {
          await gw2.close();
          await db2.close();
        }
      });
    }

    it('limits device authorization and code submissions per IP (429 slow_down with Retry-After)', async () => {
      // Counters are per IP in the shared store: start from zero, and leave zero behind.
      await tdb.db.query("DELETE FROM kv WHERE key LIKE 'rl:%'");
      const tight = await startGatewayWithIdp({
        db: tdb.db,
        idp,
        port: ports[2],
        config: { upstreams: upstreams(), rate_limits: { device_authorization: { max: 2, window_seconds: 600 }, device_verify: { max: 2, window_seconds: 600 } } },
      });
      try {
        const codes: string[] = [];
        for (let i = 0; i < 2; i++) {
          const r = await form(`${tight.url}/oauth/device_authorization`, {});
          assert.equal(r.status, 200);
          codes.push(((await r.json()) as { user_code: string }).user_code);
        }
        const over = await form(`${tight.url}/oauth/device_authorization`, {});
        assert.equal(over.status, 429);
        assert.equal(((await over.json()) as { error: string }).error, 'slow_down');
        assert.ok(Number(over.headers.get('retry-after')) > 0);
        assert.equal(over.headers.get('cache-control'), 'no-store');
        for (let i = 0; i < 2; i++) assert.notEqual((await form(`${tight.url}/device`, { user_code: 'BCDF-GHJK' }, { 'sec-fetch-site': 'same-origin' })).status, 429);
        const blocked = await form(`${tight.url}/device`, { user_code: codes[0]! }, { 'sec-fetch-site': 'same-origin' });
        assert.equal(blocked.status, 429);
        assert.ok(Number(blocked.headers.get('retry-after')) > 0);
        assert.match(await blocked.text(), /Too many codes were entered/);
      } finally {
        await tight.close();
        await tdb.db.query("DELETE FROM kv WHERE key LIKE 'rl:%'");
      }
    });

    it('maps claims from userinfo (userinfo_fallback) with JSON Pointers and a fallback email list', async () => {
      const port = await freePort();
      const idp2 = await startTestIdp({ redirectUris: [`http://127.0.0.1:${port}/oauth/callback`], claimsInIdToken: false });
      const g = await startGatewayWithIdp({
        db: tdb.db,
        idp: idp2,
        port,
        oidc: { userinfo_fallback: true, email_claim: ['upn', 'email'], groups_claim: '/groups', allowed_groups: ['engineering'] },
        config: { upstreams: upstreams() },
      });
      try {
        const client = new DeviceFlowClient({ baseUrl: g.url, sleep: async () => {} });
        const start = await client.start();
        const page = await completeDeviceSignIn(start.verification_uri_complete!, { login: 'alice' });
        assert.match(page.html, /Signed in as alice@example\.com/);
        const tokens = await client.poll(start);
        const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
        assert.equal(claims.email, 'alice@example.com');
        assert.deepEqual(claims.groups, ['engineering']);
      } finally {
        await g.close();
        await idp2.close();
      }
    });
  });
}

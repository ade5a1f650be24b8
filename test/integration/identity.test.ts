/**
 * Identity end to end: the RFC 8628 device grant in front of a real OpenID provider
 * (oidc-provider in-process), the browser leg driven headless, refresh with re-applied gates,
 * revocation and offboarding, every fault of the issue's list, on real PostgreSQL and PGlite.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { TEST_JWT_SECRET } from '../support/gateway';
import { completeDeviceSignIn, CookieJar, startGatewayWithIdp } from '../support/test-idp';
import { DEVICE_CODE_GRANT } from '../../gateway-server/src/protocol/oauth';

const ADMIN_KEY = 'admin-write-key-0123456789abcdef0123456789';

/** Gateway clock = real time + offset, so polling-interval tests advance time instead of sleeping. */
const offset = { ms: 0 };
const clock = { now: () => Date.now() + offset.ms };

const form = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

for (const kind of storeKinds()) {
  describe(`identity: device sign-in, refresh, revocation (${kind})`, function () {
    this.timeout(60_000);
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: Awaited<ReturnType<typeof startGatewayWithIdp>>;
    /** Operator log lines (JSON), and every secret the tests saw: none may appear in the log. */
    const logLines: string[] = [];
    const secrets: string[] = [];

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      gw = await startGatewayWithIdp({
        db: tdb.db,
        oidc: { allowed_email_domains: ['example.com'], allowed_groups: ['engineering', 'contractors'] },
        config: {
          upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
          admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
          rate_limits: { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } },
          limits: { max_request_header_bytes: 16 * 1024 },
        },
        deps: { clock, logger: { level: 'info', stream: { write: (l: string) => void logLines.push(l) } } },
      });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });
    beforeEach(() => {
      gw.idp.setAvailable(true);
    });

    const startDevice = async (fields: Record<string, string> = { surface: 'claude_code' }) => {
      const res = await form(`${gw.url}/oauth/device_authorization`, fields);
      assert.equal(res.status, 200);
      const body = (await res.clone().json()) as { device_code: string };
      secrets.push(body.device_code);
      return (await res.json()) as { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number };
    };
    const poll = async (deviceCode: string) => {
      const res = await form(`${gw.url}/oauth/token`, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, string> };
    };
    const refresh = async (refreshToken: string) => {
      const res = await form(`${gw.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    const signIn = async (login = 'alice') => {
      const d = await startDevice();
      const page = await completeDeviceSignIn(d.verification_uri_complete, { login });
      assert.equal(page.status, 200, page.html);
      assert.match(page.html, /You are signed in/);
      const r = await poll(d.device_code);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      secrets.push(r.body.access_token!, r.body.refresh_token!);
      return r.body as unknown as { access_token: string; refresh_token: string; email: string; token_type: string; expires_in: number };
    };
    const ask = (token: string) =>
      fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });

    it('serves RFC 8414 metadata with revocation and without an authorization endpoint', async () => {
      const res = await fetch(`${gw.url}/.well-known/oauth-authorization-server`);
      assert.equal(res.status, 200);
      const md = (await res.json()) as Record<string, unknown>;
      assert.equal(md.issuer, gw.url);
      assert.equal(md.device_authorization_endpoint, `${gw.url}/oauth/device_authorization`);
      assert.equal(md.token_endpoint, `${gw.url}/oauth/token`);
      assert.equal(md.revocation_endpoint, `${gw.url}/oauth/revoke`);
      assert.deepEqual(md.grant_types_supported, [DEVICE_CODE_GRANT, 'refresh_token']);
      assert.equal(md.gateway_protocol_version, 1);
      assert.equal('authorization_endpoint' in md, false);
    });

    it('issues a device code (≥256 bits, stored hashed with a 10-minute TTL) and a base-20 user code, ignoring unknown params', async () => {
      const res = await form(`${gw.url}/oauth/device_authorization`, { surface: 'claude_code', client_id: 'whatever', future_param: '1' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const d = (await res.json()) as Record<string, unknown>;
      assert.ok(Buffer.from(String(d.device_code), 'base64url').length >= 32);
      assert.match(String(d.user_code), /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      assert.equal(d.verification_uri, `${gw.url}/device`);
      assert.equal(d.verification_uri_complete, `${gw.url}/device?user_code=${d.user_code}`);
      assert.equal(d.expires_in, 600);
      assert.equal(d.interval, 5);
      const key = `dev:${createHash('sha256').update(String(d.device_code)).digest('hex')}`;
      const row = await tdb.db.query<{ value: { surface: string }; expires_at: Date }>('SELECT value, expires_at FROM kv WHERE key = $1', [key]);
      assert.equal(row.rows[0]?.value.surface, 'claude_code');
      const ttl = row.rows[0]!.expires_at.getTime() - clock.now();
      assert.ok(ttl > 590_000 && ttl <= 600_000, `ttl ${ttl}`);
      const leaked = await tdb.db.query("SELECT key FROM kv WHERE value::text LIKE '%' || $1 || '%' OR key LIKE '%' || $1 || '%'", [String(d.device_code)]);
      assert.equal(leaked.rowCount, 0, 'raw device code never stored');
    });

    it('completes the device flow end to end against the real OpenID provider and answers with the minted session', async () => {
      const t = await signIn('alice');
      assert.equal(t.token_type, 'Bearer');
      assert.equal(t.expires_in, 3600);
      assert.equal(t.email, 'alice@example.com');
      const c = claimsOf(t.access_token);
      assert.equal(c.sub, 'alice');
      assert.deepEqual(c.groups, ['engineering']);
      assert.equal(c.aud, 'claude-gateway');
      assert.equal(c.iss, gw.url);
      assert.equal(typeof c.sid, 'string');
      assert.equal((c.exp as number) - (c.iat as number), 3600);
      const res = await ask(t.access_token);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { content: { text: string }[] }).content[0]!.text, 'Hello from the mock upstream.');
    });

    it('shows a confirmation page for a pre-filled code (never auto-submitted) under a strict CSP', async () => {
      const d = await startDevice();
      const res = await fetch(d.verification_uri_complete);
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.ok(html.includes(`value="${d.user_code}"`));
      assert.match(html, /<form method="post" action="\/device">/);
      assert.doesNotMatch(html, /<script|onload|http-equiv="refresh"/i);
      assert.match(html, /Deny/);
      const csp = res.headers.get('content-security-policy')!;
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, new RegExp(`form-action 'self' ${gw.idp.issuer.replace(/[.:/]/g, '\\$&')}`));
    });

    it('binds the browser with an HttpOnly cookie and redirects to the IdP with PKCE S256, state and nonce', async () => {
      const d = await startDevice();
      const res = await form(`${gw.url}/device`, { user_code: d.user_code.toLowerCase().replace('-', ' ') }, { origin: gw.url });
      assert.equal(res.status, 302, await res.text());
      const loc = new URL(res.headers.get('location')!);
      assert.equal(loc.origin, gw.idp.issuer);
      assert.equal(loc.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(loc.searchParams.get('code_challenge'));
      assert.ok(loc.searchParams.get('state'));
      assert.ok(loc.searchParams.get('nonce'));
      assert.equal(loc.searchParams.get('redirect_uri'), `${gw.url}/oauth/callback`);
      assert.equal(loc.searchParams.get('scope'), 'openid profile email offline_access');
      const cookie = res.headers.get('set-cookie')!;
      assert.match(cookie, /^gw_dev=[^;]+; Path=\/; Max-Age=300; HttpOnly; SameSite=Lax$/);
      // The IdP's login page (the same module as the npm start dev IdP) says it is development-only.
      const jar = new CookieJar();
      let at = loc.href;
      let idpRes = await fetch(at, { redirect: 'manual' });
      while (idpRes.status >= 300 && idpRes.status < 400) {
        jar.store(at, idpRes);
        at = new URL(idpRes.headers.get('location')!, at).href;
        idpRes = await fetch(at, { redirect: 'manual', headers: { cookie: jar.header(at) ?? '' } });
      }
      assert.match(await idpRes.text(), /DEVELOPMENT IDENTITY PROVIDER/);
    });

    it('refuses a cross-site POST to /device with a page saying it came from another site', async () => {
      const d = await startDevice();
      for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }, {}] as Record<string, string>[]) {
        const res = await form(`${gw.url}/device`, { user_code: d.user_code }, headers);
        assert.equal(res.status, 200);
        assert.match(await res.text(), /came from another site and was blocked/);
      }
      assert.equal((await poll(d.device_code)).body.error, 'authorization_pending');
    });

    it('answers a wrong user code with a page that says what to do', async () => {
      const res = await form(`${gw.url}/device`, { user_code: 'BCDF-GHJK' }, { 'sec-fetch-site': 'same-origin' });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /not recognised or has expired/);
      const bad = await form(`${gw.url}/device`, { user_code: 'AEIOU' }, { 'sec-fetch-site': 'same-origin' });
      assert.equal(bad.status, 400);
    });

    it('polls: authorization_pending, then 429 slow_down when polled faster than the interval', async () => {
      const d = await startDevice();
      const first = await poll(d.device_code);
      assert.equal(first.status, 400);
      assert.equal(first.body.error, 'authorization_pending');
      assert.equal(first.headers.get('cache-control'), 'no-store');
      const fast = await poll(d.device_code);
      assert.equal(fast.status, 429);
      assert.equal(fast.body.error, 'slow_down');
      offset.ms += 5000;
      assert.equal((await poll(d.device_code)).body.error, 'authorization_pending');
    });

    it('answers unknown and replayed device codes with expired_token (single use)', async () => {
      assert.deepEqual((await poll('not-a-real-code')).body.error, 'expired_token');
      const d = await startDevice();
      await completeDeviceSignIn(d.verification_uri_complete, { login: 'bob' });
      assert.equal((await poll(d.device_code)).status, 200);
      const again = await poll(d.device_code);
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'expired_token');
      const missing = await form(`${gw.url}/oauth/token`, { grant_type: DEVICE_CODE_GRANT });
      assert.equal(missing.status, 400);
    });

    it('answers access_denied after the person presses Deny', async () => {
      const d = await startDevice();
      const page = await completeDeviceSignIn(d.verification_uri_complete, { login: 'alice', deny: true });
      assert.match(page.html, /Sign-in denied/);
      const r = await poll(d.device_code);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'access_denied');
    });

    it('rejects a tampered state and a mismatched nonce with a page, leaving the grant pending', async () => {
      const d = await startDevice();
      const page = await completeDeviceSignIn(d.verification_uri_complete, {
        login: 'alice',
        tamperAuthorizationUrl: (u) => (u.searchParams.set('state', 'forged-state'), u),
      });
      assert.equal(page.status, 400);
      assert.match(page.html, /expired or was already used/);
      const d2 = await startDevice();
      const page2 = await completeDeviceSignIn(d2.verification_uri_complete, {
        login: 'alice',
        tamperAuthorizationUrl: (u) => (u.searchParams.set('nonce', 'forged-nonce'), u),
      });
      assert.equal(page2.status, 400);
      assert.match(page2.html, /could not be verified/);
      assert.equal((await poll(d.device_code)).body.error, 'authorization_pending');
      offset.ms += 5000;
      assert.equal((await poll(d2.device_code)).body.error, 'authorization_pending');
    });

    it('rejects a callback from another browser (cookie binding)', async () => {
      const d = await startDevice();
      const jar = new CookieJar();
      const page = await completeDeviceSignIn(d.verification_uri_complete, {
        login: 'alice',
        jar,
        beforeCallback: () => {
          // A different browser lands on the callback: drop the gateway cookie.
          jar.store(gw.url, new Response(null, { headers: { 'set-cookie': 'gw_dev=; Max-Age=0' } }));
        },
      });
      assert.equal(page.status, 400);
      assert.match(page.html, /different browser/);
    });

    it('shows a clear page when the IdP is down during sign-in, creating nothing, and succeeds on retry', async () => {
      const d = await startDevice();
      const page = await completeDeviceSignIn(d.verification_uri_complete, { login: 'alice', beforeCallback: () => gw.idp.setAvailable(false) });
      assert.equal(page.status, 503);
      assert.match(page.html, /could not be reached, so nothing was changed/);
      assert.equal((await poll(d.device_code)).body.error, 'authorization_pending');
      gw.idp.setAvailable(true);
      const retry = await completeDeviceSignIn(d.verification_uri_complete, { login: 'alice' });
      assert.match(retry.html, /You are signed in/);
      offset.ms += 5000;
      assert.equal((await poll(d.device_code)).status, 200);
    });

    it('rejects email_verified:false, a foreign domain and a disallowed group, each with a page saying why', async () => {
      const cases: [string, RegExp][] = [
        ['carol', /Email not verified/],
        ['dave', /Email domain not allowed[\s\S]*other\.test/],
      ];
      for (const [login, why] of cases) {
        const d = await startDevice();
        const page = await completeDeviceSignIn(d.verification_uri_complete, { login });
        assert.equal(page.status, 403, login);
        assert.match(page.html, why);
        assert.equal((await poll(d.device_code)).body.error, 'access_denied');
      }
      gw.idp.setGroups('bob', ['visitors']);
      try {
        const d = await startDevice();
        const page = await completeDeviceSignIn(d.verification_uri_complete, { login: 'bob' });
        assert.equal(page.status, 403);
        assert.match(page.html, /Not in an allowed group[\s\S]*Ask your administrator/);
      } finally {
        gw.idp.setGroups('bob', ['contractors']);
      }
    });

    it('refreshes: redeems the IdP token, re-reads groups and mints a new session; the refresh token is sealed', async () => {
      const t = await signIn('bob');
      assert.equal(t.refresh_token.split('.').length, 5, 'JWE compact');
      assert.match(Buffer.from(t.refresh_token.split('.')[0]!, 'base64url').toString(), /"alg":"dir","enc":"A256GCM"/);
      gw.idp.setGroups('bob', ['contractors', 'engineering']);
      try {
        offset.ms += 1000;
        const r = await refresh(t.refresh_token);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const c = claimsOf(r.body.access_token!);
        assert.deepEqual(c.groups, ['contractors', 'engineering']);
        assert.equal(c.sid, claimsOf(t.access_token).sid, 'same session id');
        assert.ok(r.body.refresh_token && r.body.refresh_token !== t.refresh_token);
        assert.equal((await ask(r.body.access_token!)).status, 200);
      } finally {
        gw.idp.setGroups('bob', ['contractors']);
      }
      const unsupported = await form(`${gw.url}/oauth/token`, { grant_type: 'password', username: 'x' });
      assert.equal(unsupported.status, 400);
      assert.equal(((await unsupported.json()) as { error: string }).error, 'unsupported_grant_type');
      const garbage = await refresh('garbage');
      assert.equal(garbage.status, 401);
      assert.equal(garbage.body.error, 'invalid_grant');
    });

    it('refresh after deprovisioning or a group removal in the IdP → 401 invalid_grant', async () => {
      const t = await signIn('bob');
      gw.idp.setGroups('bob', ['visitors']);
      try {
        const r = await refresh(t.refresh_token);
        assert.equal(r.status, 401);
        assert.equal(r.body.error, 'invalid_grant');
      } finally {
        gw.idp.setGroups('bob', ['contractors']);
      }
      const users = gw.idp.idp.users;
      const erin = { login: 'erin', email: 'erin@example.com', name: 'Erin', groups: ['engineering'] };
      users.set('erin', erin);
      const te = await signIn('erin');
      gw.idp.deprovision('erin');
      const r = await refresh(te.refresh_token);
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_grant');
    });

    it('keeps the client refresh token usable when the IdP is down during refresh (503 temporarily_unavailable)', async () => {
      const t = await signIn('alice');
      gw.idp.setAvailable(false);
      const r = await refresh(t.refresh_token);
      assert.equal(r.status, 503);
      assert.equal(r.body.error, 'temporarily_unavailable');
      gw.idp.setAvailable(true);
      const again = await refresh(t.refresh_token);
      assert.equal(again.status, 200, JSON.stringify(again.body));
    });

    it('revokes the bearer and its refresh token at once (RFC 7009); the bearer then gets 401 + x-should-retry: false', async () => {
      const t = await signIn('alice');
      assert.equal((await ask(t.access_token)).status, 200);
      const res = await form(`${gw.url}/oauth/revoke`, { token: t.access_token, token_type_hint: 'access_token' });
      assert.equal(res.status, 200);
      const denied = await ask(t.access_token);
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get('x-should-retry'), 'false');
      assert.equal(((await denied.json()) as { error: { type: string } }).error.type, 'authentication_error');
      const r = await refresh(t.refresh_token);
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_grant');
      // Revoking by the refresh token alone ends the bearer too.
      const t2 = await signIn('alice');
      assert.equal((await form(`${gw.url}/oauth/revoke`, { token: t2.refresh_token, token_type_hint: 'refresh_token' })).status, 200);
      assert.equal((await ask(t2.access_token)).status, 401);
      assert.equal((await form(`${gw.url}/oauth/revoke`, { token: 'unknown-token' })).status, 200);
      const missing = await form(`${gw.url}/oauth/revoke`, {});
      assert.equal(missing.status, 400);
      assert.equal(((await missing.json()) as { error: string }).error, 'invalid_request');
    });

    it('revokes every session of a user through the admin API (write key required)', async () => {
      const a = await signIn('alice');
      const b = await signIn('alice');
      const bob = await signIn('bob');
      const url = `${gw.url}/v1/organizations/users/alice/sessions/revoke`;
      assert.equal((await fetch(url, { method: 'POST' })).status, 401);
      assert.equal((await fetch(url, { method: 'POST', headers: { 'x-api-key': 'wrong-key-0123456789abcdef0123456789ab' } })).status, 401);
      const res = await fetch(url, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { user_id: string }).user_id, 'alice');
      for (const t of [a, b]) {
        const r = await ask(t.access_token);
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('x-should-retry'), 'false');
        assert.equal((await refresh(t.refresh_token)).body.error, 'invalid_grant');
      }
      assert.equal((await ask(bob.access_token)).status, 200, 'other users unaffected');
      offset.ms += 1000; // a sign-in after the cut-off second is a new, valid session
      const fresh = await signIn('alice');
      assert.equal((await ask(fresh.access_token)).status, 200);
    });

    it('rejects forged, expired, alg:none and exp-less tokens with 401 + x-should-retry: false', async () => {
      const sign = (header: object, claims: object, secret = TEST_JWT_SECRET) => {
        const h = Buffer.from(JSON.stringify(header)).toString('base64url');
        const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
        return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
      };
      const now = Math.floor(clock.now() / 1000);
      const base = { sub: 'alice', aud: 'claude-gateway', iss: gw.url, iat: now };
      const tokens = [
        sign({ alg: 'HS256', typ: 'JWT' }, { ...base, exp: now + 600 }, 'forged-secret-0123456789abcdef0123456789'),
        sign({ alg: 'HS256', typ: 'JWT' }, { ...base, exp: now - 10 }),
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...base, exp: now + 600 })).toString('base64url')}.`,
        sign({ alg: 'HS256', typ: 'JWT' }, base),
      ];
      for (const t of tokens) {
        const r = await ask(t);
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('x-should-retry'), 'false');
      }
    });

    it('answers an oversized Authorization header with 431', async () => {
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${'x'.repeat(20 * 1024)}`, 'content-length': '2' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end('{}');
      });
      assert.equal(status, 431);
    });

    it('a cap keyed by the email someone signed in with binds their subject, before any request', async () => {
      const cap = (email: string) =>
        fetch(`${gw.url}/v1/organizations/spend_limits`, {
          method: 'POST',
          headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ scope: { type: 'user', user_id: email }, amount: '0', period: 'daily' }),
        });
      await tdb.db.query("DELETE FROM spend_principals WHERE sub = 'bob'");
      assert.equal((await cap('BOB@example.com')).status, 400, 'nobody signed in with it yet');
      const t = await signIn('bob');
      const made = await cap('BOB@example.com');
      const body = (await made.json()) as { id: string; scope: unknown; resolved_from_email: string };
      assert.equal(made.status, 200, JSON.stringify(body));
      assert.deepEqual(body.scope, { type: 'user', user_id: 'bob' });
      const r = await ask(t.access_token);
      assert.equal(r.status, 429, 'the cap binds bob at his first request');
      await r.text();
      const del = await fetch(`${gw.url}/v1/organizations/spend_limits/${body.id}`, { method: 'DELETE', headers: { 'x-api-key': ADMIN_KEY } });
      assert.equal(del.status, 200);
    });

    it('logged every identity event (with reasons for refusals) and never a token or code', () => {
      const events = logLines.map((l) => JSON.parse(l) as { event?: string; outcome?: string; reason?: string }).filter((l) => l.event);
      const names = new Set(events.map((e) => e.event));
      for (const n of ['device.authorize', 'device.verify', 'session.mint', 'session.refresh', 'session.revoke', 'auth.denied']) assert.ok(names.has(n), `missing ${n}`);
      assert.ok(events.some((e) => e.event === 'auth.denied' && e.reason === 'email domain not allowed'));
      assert.ok(events.every((e) => e.outcome === 'ok' || e.reason), 'every refusal has a reason');
      const log = logLines.join('');
      for (const secret of secrets) assert.ok(!log.includes(secret), 'a token or device code reached the log');
    });
  });
}

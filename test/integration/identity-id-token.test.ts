/**
 * Every check on the IdP's id_token, one at a time: a sign-in whose id_token fails any of them
 * ends on the "could not be verified" page, is recorded as `auth.denied`, and mints nothing (the
 * device code stays pending). The IdP is the real oidc-provider; a fetch wrapper between the
 * gateway and the IdP's token endpoint swaps in a forged id_token, signed with the IdP's own key
 * where the forgery is in the claims, so each case isolates one check. A control case re-signs the
 * token unchanged and must sign in, proving the harness itself breaks nothing.
 */
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWTPayload, type JWTHeaderParameters } from 'jose';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { completeDeviceSignIn, startGatewayWithIdp, startTestIdp, TEST_CLIENT_SECRET, type TestIdp } from '../support/test-idp';
import { freePort } from '../support/process';
import { DeviceFlowClient } from '../../gateway-server/src/protocol/device-flow-client';

type Forge = (idToken: string) => Promise<string>;

describe('id_token checks, one by one', function () {
  this.timeout(90_000);
  let idp: TestIdp;
  let tdb: TestDatabase;
  let ports: number[];
  let sign: (claims: JWTPayload, header: JWTHeaderParameters) => Promise<string>;
  let signWithStranger: (claims: JWTPayload, header: JWTHeaderParameters) => Promise<string>;
  /** The forgery applied to the next token answers; undefined = pass through. */
  let forge: Forge | undefined;
  const gateways: { url: string; close(): Promise<void> }[] = [];

  /** The gateway's fetch: the IdP's token endpoint answers with a forged id_token while `forge` is set. */
  const tamperingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (!forge || !idp || url.origin !== new URL(idp.issuer).origin || !url.pathname.endsWith('/token')) return res;
    const body = (await res.json()) as Record<string, unknown>;
    if (typeof body.id_token === 'string') body.id_token = await forge(body.id_token);
    const headers = new Headers(res.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    return new Response(JSON.stringify(body), { status: res.status, headers });
  };

  before(async function () {
    this.timeout(60_000);
    const own = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(own.privateKey)), kid: 'dev-1', alg: 'RS256', use: 'sig' };
    const key = await importJWK(jwk, 'RS256');
    sign = (claims, header) => new SignJWT(claims).setProtectedHeader(header).sign(key);
    const stranger = (await generateKeyPair('RS256')).privateKey;
    signWithStranger = (claims, header) => new SignJWT(claims).setProtectedHeader(header).sign(stranger);
    ports = [await freePort(), await freePort(), await freePort()];
    idp = await startTestIdp({ redirectUris: ports.map((p) => `http://127.0.0.1:${p}/oauth/callback`), signingJwk: jwk });
    tdb = await createTestDatabase('pglite');
  });
  after(async () => {
    for (const g of gateways) await g.close();
    await idp?.close();
    await tdb?.drop();
  });

  let strict: { url: string };
  let lenient: { url: string };
  before(async () => {
    const start = async (port: number, oidc: Record<string, unknown> = {}) => {
      const g = await startGatewayWithIdp({
        db: tdb.db,
        idp,
        port,
        oidc,
        deps: { fetch: tamperingFetch },
        // Every case signs in from loopback: lift the per-address sign-in limits.
        config: { rate_limits: { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } } },
      });
      gateways.push(g);
      return g;
    };
    strict = await start(ports[0]!);
    // Two minutes of clock skew allowed, and a second authorized party.
    lenient = await start(ports[1]!, { clock_skew_seconds: 120, additional_authorized_parties: ['companion-app'] });
  });

  /** One device sign-in as alice through `gw`, with `f` forging the id_token. */
  async function attempt(gw: { url: string }, f: Forge | undefined) {
    forge = f;
    try {
      const client = new DeviceFlowClient({ baseUrl: gw.url, sleep: async () => {}, userAgent: 'tollgate-test' });
      const start = await client.start({ surface: 'vscode' });
      const page = await completeDeviceSignIn(start.verification_uri_complete!, { login: 'alice' });
      const poll = await fetch(`${gw.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: start.device_code }),
      });
      return { page, poll: { status: poll.status, body: (await poll.json()) as Record<string, unknown> } };
    } finally {
      forge = undefined;
    }
  }

  const claimsOf = (t: string) => ({ claims: decodeJwt(t), header: decodeProtectedHeader(t) as JWTHeaderParameters });
  /** Re-sign with the IdP's key after `change`: only the changed claim can make the check fail. */
  const resigned =
    (change: (c: JWTPayload, h: JWTHeaderParameters) => void): Forge =>
    async (t) => {
      const { claims, header } = claimsOf(t);
      change(claims, header);
      return sign(claims, header);
    };
  const now = () => Math.floor(Date.now() / 1000);

  async function assertRefused(gw: { url: string }, f: Forge) {
    const { page, poll } = await attempt(gw, f);
    assert.equal(page.status, 400, page.html.slice(0, 400));
    assert.match(page.html, /could not be verified, so you were not signed in/);
    assert.equal(poll.status, 400);
    assert.equal(poll.body.error, 'authorization_pending', 'nothing was minted: the device code is still waiting');
  }
  async function assertSignedIn(gw: { url: string }, f: Forge) {
    const { page, poll } = await attempt(gw, f);
    assert.match(page.html, /You are signed in/, page.html.slice(0, 400));
    assert.equal(poll.status, 200);
    assert.equal(typeof poll.body.access_token, 'string');
  }

  it('control: the same token re-signed unchanged with the IdP key signs in', async () => {
    await assertSignedIn(strict, resigned(() => {}));
  });

  it('refuses a signature by another key under the IdP key id', async () => {
    await assertRefused(strict, async (t) => {
      const { claims, header } = claimsOf(t);
      return signWithStranger(claims, header);
    });
  });

  it('refuses claims edited after signing (signature no longer matches)', async () => {
    await assertRefused(strict, async (t) => {
      const [h, , s] = t.split('.');
      const claims = { ...decodeJwt(t), email: 'mallory@example.com' };
      return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    });
  });

  it('refuses an unsigned token (alg none)', async () => {
    await assertRefused(strict, async (t) => {
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(decodeJwt(t))}.`;
    });
  });

  it('refuses HS256 signed with the client secret (algorithm confusion)', async () => {
    await assertRefused(strict, async (t) => {
      const { claims } = claimsOf(t);
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(TEST_CLIENT_SECRET));
    });
  });

  it('refuses another issuer', async () => {
    await assertRefused(strict, resigned((c) => void (c.iss = 'https://idp.evil.example')));
  });

  it('refuses a token for another audience', async () => {
    await assertRefused(strict, resigned((c) => void (c.aud = 'some-other-client')));
  });

  it('refuses a nonce other than the one this sign-in sent', async () => {
    await assertRefused(strict, resigned((c) => void (c.nonce = 'replayed-nonce')));
  });

  it('refuses an expired token, and accepts one within oidc.clock_skew_seconds', async () => {
    const expired30s = resigned((c) => void (c.exp = now() - 30));
    await assertRefused(strict, expired30s);
    await assertSignedIn(lenient, expired30s);
    await assertRefused(lenient, resigned((c) => void (c.exp = now() - 600)));
  });

  it('refuses a token issued to another authorized party, unless oidc.additional_authorized_parties lists it', async () => {
    const companion = resigned((c) => void (c.azp = 'companion-app'));
    await assertRefused(strict, companion);
    await assertSignedIn(lenient, companion);
    await assertRefused(lenient, resigned((c) => void (c.azp = 'unknown-app')));
  });

  it('refuses a refresh whose new id_token is forged, and refreshes with a genuine one', async () => {
    const { poll } = await attempt(strict, undefined);
    const refresh = async (f: Forge | undefined) => {
      forge = f;
      try {
        const r = await fetch(`${strict.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: poll.body.refresh_token as string }),
        });
        return { status: r.status, body: (await r.json()) as Record<string, unknown> };
      } finally {
        forge = undefined;
      }
    };
    const forged = await refresh(async (t) => {
      const { claims, header } = claimsOf(t);
      return signWithStranger({ ...claims, groups: ['platform-admins'] }, header);
    });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error, 'invalid_grant');
    // oidc-provider rotates a refresh token when it is used, and the refused exchange used it:
    // a fresh sign-in's token shows that a genuine refresh still goes through.
    const again = await attempt(strict, undefined);
    const r = await fetch(`${strict.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: again.poll.body.refresh_token as string }),
    });
    assert.equal(r.status, 200);
  });

  it('refuses a refresh whose genuine id_token names another subject (OIDC Core 12.2)', async () => {
    const { poll } = await attempt(strict, undefined);
    forge = resigned((c) => void (c.sub = 'someone-else'));
    try {
      const r = await fetch(`${strict.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: poll.body.refresh_token as string }),
      });
      assert.equal(r.status, 401);
      const body = (await r.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_grant');
      assert.match(body.error_description, /subject changed at refresh/);
    } finally {
      forge = undefined;
    }
  });

  it('records each refusal as auth.denied naming the check, and never the token', async () => {
    const { rows } = await tdb.db.query<{ reason: string; detail: Record<string, unknown> | null }>(
      "SELECT reason, detail FROM audit_log WHERE event = 'auth.denied' AND reason = 'id_token validation failed'",
    );
    assert.equal(rows.length, 11, 'one row per refused sign-in above');
    assert.ok(rows.every((r) => r.detail?.check === 'invalid_response'));
    const { rows: all } = await tdb.db.query<{ row: string }>("SELECT row_to_json(a)::text AS row FROM audit_log a WHERE event = 'auth.denied'");
    assert.ok(all.every((r) => !/eyJ[\w-]+\.eyJ/.test(r.row)), 'no JWT in audit rows');
  });
});


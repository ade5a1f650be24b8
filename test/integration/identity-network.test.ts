/**
 * Reaching an identity provider the way enterprises run them: over HTTPS with a certificate from
 * a private CA (`oidc.ca_cert_pem`), and through an outbound proxy (`oidc.use_proxy`). The IdP is
 * the real oidc-provider serving HTTPS on loopback with a throw-away CA; the proxy is a real
 * CONNECT tunnel that records what went through it. And client authentication by certificate
 * (private_key_jwt with x5t), as Entra ID certificate credentials require.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { completeDeviceSignIn, startGatewayWithIdp, startTestIdp, type TestIdp } from '../support/test-idp';
import { freePort } from '../support/process';
import { makeTestCertificates, type TestCertificates } from '../support/test-ca';
import { DeviceFlowClient } from '../../gateway-server/src/protocol/device-flow-client';
import { idpFetch } from '../../gateway-server/src/auth/idp-fetch';
import { OidcRelyingParty, IdpUnavailable } from '../../gateway-server/src/auth/oidc-rp';
import { resolveConfig } from '../../gateway-server/src/config/load';
import { TEST_JWT_SECRET } from '../support/gateway';

/** A CONNECT proxy to loopback that tunnels for real and records each target. */
async function startConnectProxy() {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, client: Socket) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('identity provider behind a private CA and an outbound proxy', function () {
  this.timeout(90_000);
  let certs: TestCertificates;
  let idp: TestIdp;
  let tdb: TestDatabase;
  let ports: number[];

  before(async function () {
    this.timeout(120_000);
    certs = makeTestCertificates({ ip: ['127.0.0.1'] });
    ports = [await freePort(), await freePort()];
    idp = await startTestIdp({ redirectUris: ports.map((p) => `http://127.0.0.1:${p}/oauth/callback`), tls: { key: certs.key, cert: certs.cert } });
    tdb = await createTestDatabase('pglite');
  });
  after(async () => {
    await idp?.close();
    await tdb?.drop();
  });

  /** The browser leg trusts the test CA, as a browser on a managed laptop would. */
  const browserFetch = () => idpFetch({ ca_cert_pem: certs.caPem }, fetch);

  const signIn = async (gwUrl: string) => {
    const client = new DeviceFlowClient({ baseUrl: gwUrl, sleep: async () => {}, userAgent: 'tollgate-test' });
    const start = await client.start({ surface: 'vscode' });
    const page = completeDeviceSignIn(start.verification_uri_complete!, { login: 'alice', fetch: browserFetch() });
    const tokens = await client.poll(start);
    assert.match((await page).html, /You are signed in/);
    return tokens;
  };

  it('the IdP really is HTTPS with an untrusted certificate: discovery without ca_cert_pem fails as unreachable', async () => {
    assert.match(idp.issuer, /^https:\/\/127\.0\.0\.1:/);
    const config = resolveConfig({ listen: { host: '127.0.0.1' }, session: { jwt_secret: TEST_JWT_SECRET }, oidc: idp.oidcConfig(), upstreams: [{ name: 'a', provider: 'anthropic', auth: { api_key: 'k' } }] }, {});
    const rp = new OidcRelyingParty(config.oidc!, 'http://127.0.0.1:1/oauth/callback', idpFetch(config.oidc!, fetch));
    await assert.rejects(rp.discover(), (err: Error) => err instanceof IdpUnavailable && /certificate|fetch failed/i.test(`${err.message} ${(err.cause as Error)?.message}`));
  });

  it('signs in end to end with oidc.ca_cert_pem (discovery, JWKS, token exchange over the private CA)', async () => {
    const gw = await startGatewayWithIdp({ db: tdb.db, idp, port: ports[0], oidc: { ca_cert_pem: certs.caPem } });
    try {
      const tokens = await signIn(gw.url);
      assert.equal(tokens.email, 'alice@example.com');
      assert.ok(tokens.refresh_token, 'refresh goes through the same dispatcher');
      const client = new DeviceFlowClient({ baseUrl: gw.url, sleep: async () => {}, userAgent: 'tollgate-test' });
      assert.ok((await client.refresh(tokens.refresh_token!)).access_token);
    } finally {
      await gw.close();
    }
  });

  it('with oidc.use_proxy, IdP traffic goes through HTTPS_PROXY (and only then)', async () => {
    const proxy = await startConnectProxy();
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NO_PROXY = '';
    try {
      const gw = await startGatewayWithIdp({ db: tdb.db, idp, port: ports[1], oidc: { ca_cert_pem: certs.caPem, use_proxy: true } });
      try {
        await signIn(gw.url);
      } finally {
        await gw.close();
      }
      const idpHost = new URL(idp.issuer).host;
      assert.ok(proxy.targets.length > 0 && proxy.targets.every((t) => t === idpHost), `tunnelled: ${proxy.targets.join(', ')}`);
      // Without use_proxy the same environment is ignored for IdP traffic.
      const before = proxy.targets.length;
      const config = resolveConfig({ listen: { host: '127.0.0.1' }, session: { jwt_secret: TEST_JWT_SECRET }, oidc: idp.oidcConfig({ ca_cert_pem: certs.caPem }), upstreams: [{ name: 'a', provider: 'anthropic', auth: { api_key: 'k' } }] }, {});
      await new OidcRelyingParty(config.oidc!, 'http://127.0.0.1:1/oauth/callback', idpFetch(config.oidc!, fetch)).discover();
      assert.equal(proxy.targets.length, before);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await proxy.close();
    }
  });

  it('refuses at boot a ca_cert_pem that is a path or not a certificate, saying what to put there', () => {
    assert.throws(
      () => resolveConfig({ listen: { host: '127.0.0.1' }, session: { jwt_secret: TEST_JWT_SECRET }, oidc: idp.oidcConfig({ ca_cert_pem: '/etc/gateway/idp-ca.pem' }), upstreams: [{ name: 'a', provider: 'anthropic', auth: { api_key: 'k' } }] }, {}),
      /ca_cert_pem must be the PEM content of a CA certificate \(e\.g\. \$\{file:\/etc\/gateway\/idp-ca\.pem\}\), not a path/,
    );
  });
});

describe('client authentication with private_key_jwt (certificate credential, as Entra ID uses)', function () {
  this.timeout(90_000);

  it('signs in with a client assertion signed by the configured key, carrying the certificate thumbprints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-client-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=tollgate-client'], { cwd: dir, stdio: 'pipe' });
    const keyPem = readFileSync(join(dir, 'key.pem'), 'utf8');
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const publicJwk = { ...createPublicKey(keyPem).export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };
    const [port, otherPort] = [await freePort(), await freePort()];
    const pkIdp = await startTestIdp({ redirectUris: [port, otherPort].map((p) => `http://127.0.0.1:${p}/oauth/callback`), clientJwks: { keys: [publicJwk] } });
    const db = await createTestDatabase('pglite');
    // What the gateway sends to the IdP's token endpoint, to read the assertion's header.
    const assertions: string[] = [];
    const spy: typeof fetch = async (input, init) => {
      const body = init?.body;
      if (body instanceof URLSearchParams && body.get('client_assertion')) assertions.push(body.get('client_assertion')!);
      else if (typeof body === 'string' && body.includes('client_assertion=')) assertions.push(new URLSearchParams(body).get('client_assertion')!);
      return fetch(input, init);
    };
    const oidc = { ...pkIdp.oidcConfig(), client_secret: undefined, client_assertion: { private_key_pem: keyPem, certificate_pem: certPem } };
    const gw = await startGatewayWithIdp({ db: db.db, idp: pkIdp, port, oidc, deps: { fetch: spy } });
    try {
      const client = new DeviceFlowClient({ baseUrl: gw.url, sleep: async () => {}, userAgent: 'tollgate-test' });
      const start = await client.start({ surface: 'vscode' });
      const page = completeDeviceSignIn(start.verification_uri_complete!, { login: 'alice' });
      const tokens = await client.poll(start);
      assert.match((await page).html, /You are signed in/);
      assert.equal(tokens.email, 'alice@example.com');
      assert.ok(assertions.length > 0, 'the token request authenticated with a client assertion');
      const header = JSON.parse(Buffer.from(assertions[0]!.split('.')[0]!, 'base64url').toString()) as Record<string, string>;
      const der = new X509Certificate(certPem).raw;
      assert.equal(header.alg, 'RS256');
      assert.equal(header.x5t, createHash('sha1').update(der).digest('base64url'));
      assert.equal(header['x5t#S256'], createHash('sha256').update(der).digest('base64url'));
      // The IdP really checks the signature: an assertion signed by another key is refused.
      execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other.pem'], { cwd: dir, stdio: 'pipe' });
      const wrong = { ...oidc, client_assertion: { private_key_pem: readFileSync(join(dir, 'other.pem'), 'utf8') } };
      const bad = await startGatewayWithIdp({ db: db.db, idp: pkIdp, port: otherPort, oidc: wrong });
      try {
        const c2 = new DeviceFlowClient({ baseUrl: bad.url, sleep: async () => {}, userAgent: 'tollgate-test' });
        const s2 = await c2.start({ surface: 'vscode' });
        const refused = await completeDeviceSignIn(s2.verification_uri_complete!, { login: 'alice' });
        assert.doesNotMatch(refused.html, /You are signed in/);
        assert.equal(refused.status, 400);
        assert.match(refused.html, /could not be verified, so you were not signed in/);
      } finally {
        await bad.close();
      }
    } finally {
      await gw.close();
      await pkIdp.close();
      await db.drop();
    }
  });
});

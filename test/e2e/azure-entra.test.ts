/**
 * provider: azure_openai with auth.entra_id, in the bundled gateway as operators run it: the real
 * @azure/identity (MSAL) obtains tokens from a loopback HTTPS Entra authority (test CA given as
 * NODE_EXTRA_CA_CERTS, as an operator would for a private authority), and the mock Azure OpenAI
 * resource checks every bearer itself (node:crypto against the authority's key, aud, tid, appid,
 * exp). Codex-shaped streams and the official `openai` SDK; caching and refresh; a dead or hung
 * authority answered in the OpenAI error shape, failing over and tripping the breaker; the
 * client secret in no log line and no audit row.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { TEST_JWT_SECRET } from '../support/gateway';
import { startMockEntra, type MockEntra } from '../support/mock-entra';
import { codexRequestHeaders, sdkStreamTurn, startMockOpenAI, type MockOpenAI } from '../support/mock-openai';
import { startGatewayProcess, type GatewayProcess } from '../support/process';
import { makeTestCertificates } from '../support/test-ca';
import { waitFor } from '../support/wait';

const SECRET = `entra-secret-${randomBytes(12).toString('hex')}`;
const BACKUP_KEY = 'sk-backup-openai-key';
const ADMIN_READ_KEY = 'rk-0123456789abcdef0123456789abcdef';

const mint = (url: string, sub = 'entra-user') => new SessionTokens([TEST_JWT_SECRET], url, 3600).mint({ sub, email: `${sub}@example.com`, groups: ['engineering'] }).token;

const codexTurn = (gw: GatewayProcess, sub?: string) =>
  fetch(`${gw.url}/v1/responses`, {
    method: 'POST',
    headers: codexRequestHeaders(mint(gw.url, sub)),
    body: JSON.stringify({ model: 'gpt-5-codex', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], stream: true, store: false }),
  });

describe('Azure OpenAI with Entra ID tokens (bundled server, @azure/identity, loopback authority)', function () {
  let pgdb: { url: string; drop(): Promise<void> };
  let entra: MockEntra;
  let azure: MockOpenAI;
  let backup: MockOpenAI;
  const gateways: GatewayProcess[] = [];

  const entraUpstream = (auth: Record<string, unknown> = { client_secret: SECRET }) => ({
    name: 'azure-entra',
    provider: 'azure_openai',
    endpoint: azure.url,
    deployments: { 'gpt-5-codex': 'codex-prod' },
    auth: { entra_id: { tenant_id: entra.tenant, client_id: entra.clientId, authority_host: entra.url, ...auth } },
  });
  const start = async (upstreams: unknown[], extra: Record<string, unknown> = {}) => {
    const gw = await startGatewayProcess(
      {
        session: { jwt_secret: TEST_JWT_SECRET },
        store: { postgres_url: pgdb.url },
        upstreams,
        admin: { read_keys: [{ id: 'ops', key: ADMIN_READ_KEY }] },
        managed: { policies: [{ name: 'everyone', match: {}, codex: { availableModels: ['gpt-5-codex'] } }] },
        ...extra,
      },
      // debug: every line the gateway can log is searched for the secret below.
      { env: { NODE_EXTRA_CA_CERTS: entra.caPath, TOLLGATE_LOG_LEVEL: 'debug' } },
    );
    gateways.push(gw);
    return gw;
  };

  before(async () => {
    pgdb = await createPostgresDatabase();
    entra = await startMockEntra({ clientSecret: SECRET });
    azure = await startMockOpenAI({
      azure: true,
      authorize: (h) => {
        if (h['api-key'] !== undefined) return 'an api-key header was sent';
        const v = entra.verifyAccessToken(h.authorization);
        return v.ok ? undefined : v.reason;
      },
    });
    backup = await startMockOpenAI({ apiKey: BACKUP_KEY });
  });
  after(async () => {
    for (const g of gateways) await g.stop('SIGKILL');
    await entra?.close();
    await azure?.close();
    await backup?.close();
    await pgdb?.drop();
  });
  beforeEach(async () => {
    entra.tokenRequests.length = 0;
    entra.expiresIn = 3600;
    entra.hang = false;
    azure.requests.length = 0;
    backup.requests.length = 0;
    await entra.start();
  });

  describe('a client secret, the authority up', () => {
    let gw: GatewayProcess;
    before(async () => {
      gw = await start([entraUpstream()]);
    });

    it('streams a Codex turn with a verified Entra bearer in place of the user token, and audits it', async () => {
      const userToken = mint(gw.url);
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: codexRequestHeaders(userToken),
        body: JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: true, store: false }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.deepEqual(bytes, azure.sentBodies[0], 'the SSE stream arrives unchanged');
      const seen = azure.requests[0]!;
      assert.equal(seen.url, '/openai/responses?api-version=2025-04-01-preview');
      const v = entra.verifyAccessToken(seen.headers.authorization as string);
      assert.ok(v.ok, `the upstream saw a token the authority signed: ${JSON.stringify(v)}`);
      assert.equal(seen.headers['api-key'], undefined);
      assert.ok(!JSON.stringify(seen.headers).includes(userToken), "the user's bearer never reaches the upstream");
      assert.equal(JSON.parse(seen.body.toString()).model, 'codex-prod');
      assert.deepEqual(
        entra.tokenRequests.map((t) => [t.grantType, t.scope, t.credential, t.credentialOk]),
        [['client_credentials', 'https://cognitiveservices.azure.com/.default', 'secret', true]],
      );
      const db = new pg.Client({ connectionString: pgdb.url });
      await db.connect();
      try {
        const row = await waitFor('the audit row of the turn', async () =>
          (await db.query(`SELECT * FROM audit_log WHERE request_id = $1`, [res.headers.get('x-request-id')])).rows[0],
        );
        assert.equal(row.upstream, 'azure-entra');
        assert.equal(row.sub, 'entra-user');
        assert.equal(row.outcome, 'ok');
      } finally {
        await db.end();
      }
    });

    it('serves the openai SDK (responses.stream and responses.create) on the cached token', async () => {
      const client = new OpenAI({ apiKey: mint(gw.url, 'sdk-user'), baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const { deltas, final } = await sdkStreamTurn(client, 'gpt-5-codex', 'hello');
      assert.equal(deltas, 'Hello from the mock OpenAI upstream.');
      assert.equal(final.usage?.input_tokens_details.cached_tokens, 1024);
      const tokensSoFar = entra.tokenRequests.length;
      const created = await client.responses.create({ model: 'gpt-5-codex', input: 'again' });
      assert.equal(created.output_text, 'Hello from the mock OpenAI upstream.');
      assert.equal(azure.requests.length, 2);
      assert.ok(azure.requests.every((r) => entra.verifyAccessToken(r.headers.authorization as string).ok));
      assert.equal(entra.tokenRequests.length, tokensSoFar, 'MSAL served the second request from its cache (the token lives an hour)');
      assert.ok(tokensSoFar <= 1);
    });
  });

  it('asks the authority again when the token nears expiry, and sends the new one', async () => {
    // MSAL renews a token within five minutes of its expiry: 60 s tokens are renewed on every use.
    entra.expiresIn = 60;
    const gw = await start([entraUpstream()]);
    assert.equal((await codexTurn(gw)).status, 200);
    await waitFor('the first token request', () => entra.tokenRequests.length === 1);
    assert.equal((await codexTurn(gw)).status, 200);
    await waitFor('the second token request', () => entra.tokenRequests.length === 2);
    const jtis = azure.requests.map((r) => {
      const v = entra.verifyAccessToken(r.headers.authorization as string);
      assert.ok(v.ok, JSON.stringify(v));
      return v.claims.jti;
    });
    assert.deepEqual(jtis, entra.tokenRequests.map((t) => t.issued), 'each request carried the token issued just before it');
    assert.notEqual(jtis[0], jtis[1]);
  });

  it('answers a dead authority with a 502 in the OpenAI shape and stays up; nothing reaches Azure', async () => {
    await entra.stop();
    const gw = await start([entraUpstream()]);
    const res = await codexTurn(gw);
    assert.equal(res.status, 502);
    const err = ((await res.json()) as { error: { type: string; code: string; message: string; param: unknown } }).error;
    assert.equal(err.type, 'server_error');
    assert.equal(err.code, 'upstream_credential_unavailable');
    assert.match(err.message, /could not obtain its credential for the upstream \(an Entra ID token for Azure OpenAI\)/);
    assert.equal(azure.requests.length, 0);
    assert.ok((await fetch(`${gw.url}/readyz`)).ok, 'the gateway is still serving');
    await waitFor('the operator log line', () => /azure_openai Entra ID token unavailable/.test(gw.output()));
  });

  it('bounds a hung authority by timeouts.upstream_ttfb_ms', async () => {
    entra.hang = true;
    const gw = await start([entraUpstream()], { timeouts: { upstream_ttfb_ms: 1500 } });
    const res = await codexTurn(gw);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'upstream_credential_unavailable');
    assert.equal(entra.tokenRequests.length, 1, 'the authority received the request and never answered');
    await waitFor('the bound in the operator log', () => /issued no token within 1500 ms/.test(gw.output()));
  });

  it('fails over to the next upstream while the authority is down, and the breaker then skips Azure', async () => {
    await entra.stop();
    const gw = await start(
      [entraUpstream(), { name: 'backup', provider: 'openai', base_url: backup.baseUrl, auth: { api_key: BACKUP_KEY } }],
      { circuit_breaker: { failure_threshold: 2, cooldown_seconds: 3600 } },
    );
    for (let i = 0; i < 2; i++) {
      const res = await codexTurn(gw);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type')?.startsWith('text/event-stream'), true);
      await res.arrayBuffer();
    }
    assert.equal(backup.requests.length, 2);
    const view = (await (await fetch(`${gw.url}/v1/organizations/upstreams`, { headers: { 'x-api-key': ADMIN_READ_KEY } })).json()) as {
      data: { name: string; circuit: { state: string; consecutive_failures: number } }[];
    };
    const circuit = view.data.find((u) => u.name === 'azure-entra')?.circuit;
    assert.equal(circuit?.state, 'open');
    assert.equal(circuit?.consecutive_failures, 2);
    // The authority is back, but the open breaker keeps Azure out of the order: no token is asked for.
    await entra.start();
    assert.equal((await codexTurn(gw)).status, 200);
    assert.equal(backup.requests.length, 3);
    assert.equal(entra.tokenRequests.length, 0);
    assert.equal(azure.requests.length, 0);
  });

  it('authenticates with a certificate (client_certificate_path): a signed client assertion, no secret', async () => {
    const certs = makeTestCertificates({ dns: ['tollgate-entra-client'] });
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-entra-cert-'));
    const pemPath = join(dir, 'client.pem');
    writeFileSync(pemPath, Buffer.concat([certs.cert, certs.key]), { mode: 0o600 });
    const certAuthority = await startMockEntra({ certificatePath: pemPath });
    const resource = await startMockOpenAI({
      azure: true,
      authorize: (h) => {
        const v = certAuthority.verifyAccessToken(h.authorization);
        return v.ok ? undefined : v.reason;
      },
    });
    try {
      const gw = await startGatewayProcess(
        {
          session: { jwt_secret: TEST_JWT_SECRET },
          store: { postgres_url: pgdb.url },
          upstreams: [
            {
              name: 'azure-cert',
              provider: 'azure_openai',
              endpoint: resource.url,
              deployments: { 'gpt-5-codex': 'codex-prod' },
              auth: { entra_id: { tenant_id: certAuthority.tenant, client_id: certAuthority.clientId, authority_host: certAuthority.url, client_certificate_path: pemPath } },
            },
          ],
          managed: { policies: [{ name: 'everyone', match: {}, codex: { availableModels: ['gpt-5-codex'] } }] },
        },
        { env: { NODE_EXTRA_CA_CERTS: certAuthority.caPath } },
      );
      gateways.push(gw);
      const res = await codexTurn(gw);
      assert.equal(res.status, 200, `${await res.clone().text()}\n${gw.output()}`);
      await res.arrayBuffer();
      assert.deepEqual(
        certAuthority.tokenRequests.map((t) => [t.credential, t.credentialOk]),
        [['assertion', true]],
      );
      assert.equal(resource.requests.length, 1, 'the resource accepted the bearer the certificate obtained');
    } finally {
      await resource.close();
      await certAuthority.close();
    }
  });

  // Mocha runs nested suites after the tests above: this one sees every gateway's output.
  describe('afterwards', () => {
    it('never writes the client secret to a log line or an audit row', async () => {
      const logs = gateways.map((g) => g.output()).join('\n');
      assert.match(logs, /Entra ID token unavailable/, 'the logs captured include the token failures');
      assert.ok(!logs.includes(SECRET), 'the client secret appears in the gateway output');
      const db = new pg.Client({ connectionString: pgdb.url });
      await db.connect();
      try {
        const rows = (await db.query(`SELECT * FROM audit_log`)).rows;
        assert.ok(rows.length >= 8, `audit rows were written (${rows.length})`);
        assert.ok(!JSON.stringify(rows).includes(SECRET), 'the client secret appears in an audit row');
      } finally {
        await db.end();
      }
    });
  });
});

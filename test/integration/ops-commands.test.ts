/**
 * `tollgate-gateway init` and `check`, in process: the starter file, and every probe against
 * real parts (PostgreSQL, an oidc-provider IdP on loopback, the mock upstream) and an
 * unreachable upstream.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-ignore -- oidc-provider ships no types; only its constructor and callback() are used here.
import Provider from 'oidc-provider';
import { stringify } from 'yaml';
import { initCommand } from '../../gateway-server/src/ops/init-command';
import { checkCommand } from '../../gateway-server/src/ops/check-command';
import { PILOT_ENV_VARS } from '../../gateway-server/src/ops/pilot-template';
import { checkBootValidation } from '../../gateway-server/src/ops/checks';
import { loadConfigFile } from '../../gateway-server/src/config/load';
import { createPostgresDatabase, createTestDatabase, type TestDatabase } from '../support/db';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { freePort } from '../support/process';
import { TEST_JWT_SECRET } from '../support/gateway';
import { makeTestCertificates } from '../support/test-ca';

function captureIo() {
  const c = {
    text: '',
    err: '',
    io: { out: (s: string) => void (c.text += s), err: (s: string) => void (c.err += s) },
    get all() {
      return c.text + c.err;
    },
  };
  return c;
}

const pilotEnv = Object.fromEntries(PILOT_ENV_VARS.map((v) => [v, v === 'GATEWAY_POSTGRES_URL' ? 'postgresql://u@db:5432/t' : 'x'.repeat(40)]));

describe('tollgate-gateway init', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-init-'));
  const path = join(dir, 'gateway.yaml');

  it('writes a commented pilot config that validates once its variables are set', async () => {
    const c = captureIo();
    assert.equal(await initCommand(['--out', path, '--public-url', 'https://gw.corp.internal', '--email-domain', 'corp.example'], c.io), 0);
    const text = readFileSync(path, 'utf8');
    assert.match(text, /^# Tollgate gateway: starter configuration/);
    assert.match(text, /jwt_secret: \$\{GATEWAY_JWT_SECRET\}/);
    assert.doesNotMatch(text, /sk-ant-/);
    const config = loadConfigFile(path, pilotEnv);
    assert.equal(config.publicUrl, 'https://gw.corp.internal');
    assert.deepEqual(config.oidc?.allowed_email_domains, ['corp.example']);
    assert.ok(config.admin && config.store.postgres_url);
    assert.equal(config.admin.blocked_message, 'ask #claude-pilot to raise your limit', 'quoted: not cut at " #"');
    const boot = await checkBootValidation(config);
    assert.deepEqual(boot.filter((l) => l.status !== 'ok'), [], 'the starter compiles without warnings');
    assert.match(c.all, /tollgate-gateway check --config/);
  });

  it('refuses to overwrite without --force, and overwrites with it', async () => {
    writeFileSync(path, 'hand: edited\n');
    const c = captureIo();
    assert.equal(await initCommand(['--out', path], c.io), 1);
    assert.match(c.all, /already exists; nothing written\. Use --force/);
    assert.equal(readFileSync(path, 'utf8'), 'hand: edited\n');
    assert.equal(await initCommand(['--out', path, '--force'], captureIo().io), 0);
    assert.match(readFileSync(path, 'utf8'), /managed:/);
  });
});

describe('tollgate-gateway check', function () {
  this.timeout(60_000);
  let tdb: TestDatabase;
  let fresh: { url: string; drop(): Promise<void> };
  let mock: MockAnthropic;
  let idp: Server;
  let issuer: string;
  let closedPort: number;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-check-'));

  before(async () => {
    tdb = await createTestDatabase('postgres');
    fresh = await createPostgresDatabase();
    mock = await startMockAnthropic({ apiKey: 'sk-good' });
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const provider = new Provider(issuer, {
      clients: [{ client_id: 'tollgate', client_secret: 'secret', redirect_uris: ['http://127.0.0.1:1/oauth/callback'] }],
    });
    idp = createServer(provider.callback());
    await new Promise<void>((r) => idp.listen(port, '127.0.0.1', r));
    closedPort = await freePort();
  });
  after(async () => {
    idp?.close();
    await mock?.close();
    await tdb?.drop();
    await fresh?.drop();
  });

  function configFile(over: Record<string, unknown>): string {
    const path = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      path,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        session: { jwt_secret: TEST_JWT_SECRET },
        store: { postgres_url: tdb.url },
        oidc: { issuer, client_id: 'tollgate', client_secret: 'secret', allow_insecure_issuer: true },
        upstreams: [{ name: 'mock', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-good' } }],
        ...over,
      }),
    );
    return path;
  }

  it("fails on init's placeholders, one line each, naming the key", async () => {
    const path = join(dir, 'fresh-init.yaml');
    assert.equal(await initCommand(['--out', path], captureIo().io), 0);
    const c = captureIo();
    const code = await checkCommand(['--config', path, '--timeout-ms', '300'], c.io, pilotEnv);
    assert.equal(code, 1, c.all);
    const lines = c.text.split('\n').filter((l) => /^FAIL +placeholders /.test(l));
    assert.deepEqual(
      lines.map((l) => l.replace(/^FAIL +placeholders +/, '')),
      [
        "listen.public_url is still init's placeholder https://claude-gateway.internal.example.com; replace it with your organisation's value",
        "oidc.issuer is still init's placeholder https://example.okta.com; replace it with your organisation's value",
        "oidc.client_id is still init's placeholder replace-with-your-client-id; replace it with your organisation's value",
        "oidc.allowed_email_domains is still init's placeholder example.com; replace it with your organisation's value",
      ],
    );
  });

  it('understands the development IdP: nothing to probe before boot, but it must be on loopback', async () => {
    const port = await freePort();
    const devOidc = { issuer: `http://127.0.0.1:${port}`, client_id: 'tollgate-dev', client_secret: 's', allow_insecure_issuer: true };
    const c = captureIo();
    assert.equal(await checkCommand(['--config', configFile({ oidc: devOidc, dev_idp: { enabled: true, port } })], c.io), 0, c.all);
    assert.match(c.text, new RegExp(`^warn +idp +development identity provider \\(dev_idp\\), started by the gateway on http://127\\.0\\.0\\.1:${port}: any password works; never in production$`, 'm'));
    const wrongPort = captureIo();
    assert.equal(await checkCommand(['--config', configFile({ oidc: devOidc, dev_idp: { enabled: true, port: port + 1 } })], wrongPort.io), 1);
    assert.match(wrongPort.text, /^FAIL +idp +dev_idp\.port \(\d+\) must match the port of oidc\.issuer/m);
  });

  it('checks that listen.tls files load', async () => {
    const certs = makeTestCertificates({ ip: ['127.0.0.1'] });
    writeFileSync(join(dir, 'tls.crt'), certs.cert);
    writeFileSync(join(dir, 'tls.key'), certs.key);
    writeFileSync(join(dir, 'ca.key'), readFileSync(certs.caPath.replace(/ca\.pem$/, 'ca.key')));
    const good = captureIo();
    assert.equal(await checkCommand(['--config', configFile({ listen: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') } } })], good.io), 0, good.all);
    assert.match(good.text, /^ok +tls +.*tls\.crt and its key load/m);
    const bad = captureIo();
    assert.equal(await checkCommand(['--config', configFile({ listen: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'ca.key') } } })], bad.io), 1);
    assert.match(bad.text, /^FAIL +tls +listen\.tls: cannot load the certificate .*tls\.crt and key .*ca\.key/m);
  });

  it('warns when a string value was visibly cut by a " #" comment, and not for quoted ones or real comments', async () => {
    const path = configFile({});
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, `${text}admin:\n  write_keys: [{ id: ops, key: wk-0123456789abcdef0123456789abcdef }]\n  blocked_message: ask #eng-budget to raise it\n`);
    const c = captureIo();
    assert.equal(await checkCommand(['--config', path], c.io), 0, c.all);
    const warns = c.text.split('\n').filter((l) => /^warn +config /.test(l));
    assert.equal(warns.length, 1, c.text);
    assert.match(warns[0]!, /admin\.blocked_message \(line \d+\) loads as "ask": the rest of the line, "#eng-budget to raise it", is a YAML comment .* double quotes/);
    writeFileSync(path, `${text}admin:\n  write_keys: [{ id: ops, key: wk-0123456789abcdef0123456789abcdef }]   # the writer\n  blocked_message: "ask #eng-budget to raise it"   # quoted\n`);
    const q = captureIo();
    assert.equal(await checkCommand(['--config', path], q.io), 0, q.all);
    assert.doesNotMatch(q.text, /^warn +config /m);
    assert.equal(loadConfigFile(path).admin?.blocked_message, 'ask #eng-budget to raise it');
  });

  it('passes with a migrated database, a discoverable IdP and a reachable upstream', async () => {
    const c = captureIo();
    const code = await checkCommand(['--config', configFile({})], c.io);
    assert.equal(code, 0, c.all);
    const lines = c.text.trim().split('\n');
    assert.match(lines[0]!, /^ok +config +.* is valid: 1 upstream, PostgreSQL store, OIDC sign-in/);
    assert.match(c.text, /^ok +policies +none configured/m);
    assert.match(c.text, /^ok +database +PostgreSQL \d+/m);
    assert.match(c.text, /^ok +migrations +(\d+) of \1 applied$/m);
    assert.match(c.text, new RegExp(`^ok +idp +${issuer} publishes discovery`, 'm'));
    assert.match(c.text, /^ok +upstream mock +http:\/\/127\.0\.0\.1:\d+ is reachable and accepted the credentials/m);
    assert.doesNotMatch(c.all, /sk-good|secret@/);
    // Probes only: nothing reached the upstream's messages endpoint.
    assert.ok(mock.requests.every((r) => r.method === 'GET' && r.url.startsWith('/v1/models')));
  });

  it('fails, one line each, on an unreachable upstream, rejected credentials and a wrong issuer; exit 1', async () => {
    const c = captureIo();
    const code = await checkCommand(
      [
        '--config',
        configFile({
          store: { postgres_url: fresh.url },
          managed: { policies: [{ match: { groups: ['a'] }, cli: { availableModels: 'not-a-list' } }] },
          oidc: { issuer: `${issuer}/wrong`, client_id: 'x', allow_insecure_issuer: true },
          upstreams: [
            { name: 'down', provider: 'anthropic', base_url: `http://127.0.0.1:${closedPort}`, auth: { api_key: 'k' } },
            { name: 'badkey', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-wrong' } },
          ],
        }),
        '--timeout-ms',
        '2000',
      ],
      c.io,
    );
    assert.equal(code, 1, c.all);
    assert.match(c.text, /^ok +migrations +0 of \d+ applied; \d+ will run at the next boot/m);
    assert.match(c.text, /^FAIL +idp +GET .*\/wrong\/\.well-known\/openid-configuration answered HTTP 404/m);
    assert.match(c.text, /^FAIL +upstream down +http:\/\/127\.0\.0\.1:\d+: connection refused/m);
    assert.match(c.text, /^FAIL +upstream badkey +.* rejected the credentials \(HTTP 401\)/m);
    assert.match(c.text, /some checks failed/);
    assert.match(c.text, /^FAIL +policies +managed\.policies/m);
    assert.doesNotMatch(c.all, /sk-wrong/);
  });

  it('fails on an unreachable database without waiting for boot retries', async () => {
    const c = captureIo();
    const code = await checkCommand(['--config', configFile({ store: { postgres_url: `postgresql://postgres@127.0.0.1:${closedPort}/x` } })], c.io);
    assert.equal(code, 1);
    assert.match(c.text, /^FAIL +database +cannot connect to 127\.0\.0\.1:\d+\/x: connection refused/m);
  });

  it('exits 2 with one line per problem for an invalid config', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, stringify({ session: { jwt_secret: 'short' }, upstreams: [], lisen: {} }));
    const c = captureIo();
    assert.equal(await checkCommand(['--config', path], c.io), 2);
    assert.match(c.text, /^FAIL +config +.*bad\.yaml is not valid:/m);
    assert.match(c.text, /unknown key "lisen"/);
    assert.match(c.text, /session\.jwt_secret/);
  });
});

/**
 * The `tollgate` command against a real gateway signed in through the in-process IdP: device
 * sign-in in the terminal, `token` refreshing (once, under the lock, however many processes ask
 * at the same moment), revocation, sign-out, and `setup codex` / `setup claude` keeping the
 * developer's other settings.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { completeDeviceSignIn, startGatewayWithIdp } from '../support/test-idp';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { cliHome, commandLine, loginWith, runTollgate } from '../support/tollgate-cli';
import { credentialsFile } from '../../client/src/core/paths';

const ADMIN_KEY = 'admin-write-key-0123456789abcdef0123456789';
const offset = { ms: 0 };
const clock = { now: () => Date.now() + offset.ms };

// Async: the gateway runs in this process, a synchronous child would stall it.
const run = async (cmd: string, args: string[], env: Record<string, string>) => (await promisify(execFile)(cmd, args, { env, encoding: 'utf8' })).stdout.trim();
const me = (url: string, token: string) => fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });

for (const kind of storeKinds()) {
  describe(`the tollgate command (${kind})`, function () {
    this.timeout(120_000);
    let tdb: TestDatabase;
    let mock: MockAnthropic;
    let gw: Awaited<ReturnType<typeof startGatewayWithIdp>>;

    before(async function () {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      gw = await startGatewayWithIdp({
        db: tdb.db,
        config: {
          upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
          admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
          managed: {
            policies: [
              { name: 'everyone', match: {}, codex: { availableModels: ['gpt-5-codex'], config: { approval_policy: 'never', model_reasoning_effort: 'low' }, requirements: { allowed_sandbox_modes: ['read-only'] } } },
            ],
          },
          rate_limits: { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } },
        },
        deps: { clock },
      });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });
    afterEach(() => {
      offset.ms = 0;
    });

    async function signedIn(login = 'alice') {
      const home = cliHome();
      const r = await loginWith(gw.url, home.env, (url) => completeDeviceSignIn(url, { login }));
      assert.equal(r.code, 0, r.stderr);
      return home;
    }

    const refreshes = async () =>
      Number((await tdb.db.query<{ n: string }>("SELECT count(*)::text AS n FROM audit_log WHERE event = 'session.refresh'")).rows[0]!.n);

    it('signs in with the device grant in the terminal and keeps the session in a 0600 file', async () => {
      const home = await signedIn();
      const file = credentialsFile(join(home.env.XDG_CONFIG_HOME!, 'tollgate'), gw.url);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const status = await runTollgate(['status'], home.env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /Signed in to http:\/\/127\.0\.0\.1:\d+ as alice@example\.com/);
      // No --gateway: the one signed in to last is the default.
      const t = await runTollgate(['token'], home.env);
      assert.equal(t.code, 0, t.stderr);
      assert.equal(t.stdout.trim(), JSON.parse(readFileSync(file, 'utf8')).accessToken);
      assert.equal((await me(gw.url, t.stdout.trim())).status, 200);
      assert.equal(t.stderr, '');
    });

    it('refreshes once when four token commands race on an expired bearer, and all print the new one', async () => {
      const home = await signedIn();
      const file = credentialsFile(join(home.env.XDG_CONFIG_HOME!, 'tollgate'), gw.url);
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      writeFileSync(file, JSON.stringify({ ...stored, expiresAt: Date.now() - 1000 }), { mode: 0o600 });
      const before = await refreshes();
      const runs = await Promise.all([1, 2, 3, 4].map(() => runTollgate(['token', '--gateway', gw.url], home.env)));
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const tokens = new Set(runs.map((r) => r.stdout.trim()));
      assert.equal(tokens.size, 1);
      const token = [...tokens][0]!;
      assert.notEqual(token, stored.accessToken);
      assert.equal(await refreshes(), before + 1);
      assert.equal((await me(gw.url, token)).status, 200);
      // The refresh token kept in the file still works: the session survived the race.
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), expiresAt: Date.now() - 1000 }), { mode: 0o600 });
      const again = await runTollgate(['token', '--gateway', gw.url], home.env);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await refreshes(), before + 2);
    });

    it('hands out a refreshed bearer when the gateway no longer takes the stored one (its clock says expired)', async () => {
      const home = await signedIn();
      const first = (await runTollgate(['token'], home.env)).stdout.trim();
      offset.ms = 2 * 3600_000; // past the one-hour session TTL, as the gateway sees it
      assert.equal((await me(gw.url, first)).status, 401);
      const t = await runTollgate(['token'], home.env);
      assert.equal(t.code, 0, t.stderr);
      assert.notEqual(t.stdout.trim(), first);
      assert.equal((await me(gw.url, t.stdout.trim())).status, 200);
    });

    it('says how to sign in again (exit 3) when an administrator revoked the session', async () => {
      const home = await signedIn('bob');
      const token = (await runTollgate(['token'], home.env)).stdout.trim();
      const sub = ((await (await me(gw.url, token)).json()) as { sub: string }).sub;
      const r = await fetch(`${gw.url}/v1/organizations/users/${encodeURIComponent(sub)}/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
      assert.equal(r.status, 200);
      const t = await runTollgate(['token'], home.env);
      assert.equal(t.code, 3);
      assert.equal(t.stdout, '');
      assert.match(t.stderr, /session at http:\/\/127\.0\.0\.1:\d+ has ended .*run `tollgate login --gateway http:\/\/127\.0\.0\.1:\d+` to sign in again/);
      assert.equal((await runTollgate(['status'], home.env)).code, 3);
    });

    it('logout revokes the session at the gateway and forgets it', async () => {
      const home = await signedIn();
      const token = (await runTollgate(['token'], home.env)).stdout.trim();
      const out = await runTollgate(['logout'], home.env);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /the session is revoked/);
      assert.equal((await me(gw.url, token)).status, 401);
      const t = await runTollgate(['token'], home.env);
      assert.equal(t.code, 3);
      assert.match(t.stderr, /Not signed in to http:\/\/127\.0\.0\.1:\d+: run `tollgate login --gateway/);
    });

    it('setup codex adds the provider and profile and keeps the developer\'s other settings', async () => {
      const home = await signedIn();
      const codexHome = home.env.CODEX_HOME!;
      mkdirSync(codexHome, { recursive: true });
      const mine = '# my settings\nmodel = "gpt-5.5"\napproval_policy = "on-request"\n[mcp_servers.docs]\ncommand = "docs-mcp"\nargs = ["--port", "3"]\n[model_providers.other]\nname = "Other"\nbase_url = "https://other.example/v1"\n';
      writeFileSync(join(codexHome, 'config.toml'), mine);
      const requirementsFile = join(home.dir, 'etc-codex', 'requirements.toml');
      const r = await runTollgate(['setup', 'codex', '--gateway', gw.url, '--model', 'gpt-5.5', '--requirements-file', requirementsFile], home.env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Models your policy allows: gpt-5-codex\./);
      assert.deepEqual({ ...(parse(readFileSync(requirementsFile, 'utf8')) as Record<string, unknown>) }, { allowed_sandbox_modes: ['read-only'] });
      const doc = parse(readFileSync(join(codexHome, 'config.toml'), 'utf8')) as Record<string, any>;
      // The policy's keys: defaults in config.toml (the developer's value stays), set in the profile file.
      assert.equal(doc.approval_policy, 'on-request');
      assert.equal(doc.model_reasoning_effort, 'low');
      assert.deepEqual({ ...doc.mcp_servers.docs }, { command: 'docs-mcp', args: ['--port', '3'] });
      assert.equal(doc.model_providers.other.base_url, 'https://other.example/v1');
      const profile = parse(readFileSync(join(codexHome, 'tollgate.config.toml'), 'utf8')) as Record<string, any>;
      assert.equal(profile.model_provider, 'tollgate');
      assert.equal(profile.model, 'gpt-5.5');
      assert.equal(profile.approval_policy, 'never');
      assert.deepEqual({ ...profile.model_providers.tollgate }, { ...doc.model_providers.tollgate });
      const p = doc.model_providers.tollgate;
      assert.equal(p.base_url, `${gw.url}/v1`);
      assert.equal(p.wire_api, 'responses');
      assert.equal(p.supports_websockets, false);
      assert.deepEqual(p.auth.args.slice(-3), ['token', '--gateway', gw.url]);
      assert.equal(doc.model_provider, 'tollgate');
      // Codex 0.171 refuses legacy profile keys in config.toml.
      assert.equal(doc.profile, undefined);
      assert.equal(doc.profiles, undefined);
      assert.equal(readFileSync(join(codexHome, 'config.toml.before-tollgate'), 'utf8'), mine);
      // The auth command as written prints a bearer the gateway takes.
      const bearer = await run(p.auth.command, p.auth.args, home.env);
      assert.equal((await me(gw.url, bearer)).status, 200);
    });

    it('setup codex refuses a config.toml that is not TOML and changes nothing', async () => {
      const home = await signedIn();
      mkdirSync(home.env.CODEX_HOME!, { recursive: true });
      writeFileSync(join(home.env.CODEX_HOME!, 'config.toml'), 'model = "unterminated\n');
      const r = await runTollgate(['setup', 'codex'], home.env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /config\.toml is not valid TOML .*Nothing was changed\./);
      assert.equal(readFileSync(join(home.env.CODEX_HOME!, 'config.toml'), 'utf8'), 'model = "unterminated\n');
      assert.equal(existsSync(join(home.env.CODEX_HOME!, 'config.toml.before-tollgate')), false);
    });

    it('setup claude sets apiKeyHelper to the token command, keeping other settings', async () => {
      const home = await signedIn();
      const file = join(home.dir, '.claude', 'settings.json');
      mkdirSync(join(home.dir, '.claude'), { recursive: true });
      writeFileSync(file, JSON.stringify({ theme: 'dark', env: { FOO: 'bar' } }));
      const r = await runTollgate(['setup', 'claude'], home.env);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(s.theme, 'dark');
      assert.deepEqual(s.env, { FOO: 'bar', ANTHROPIC_BASE_URL: gw.url, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' });
      const c = commandLine(false);
      assert.ok(s.apiKeyHelper.startsWith(c.command));
      const bearer = await run('/bin/sh', ['-c', s.apiKeyHelper], home.env);
      assert.equal((await me(gw.url, bearer)).status, 200);
    });
  });
}

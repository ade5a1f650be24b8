/**
 * The policy feature end to end: managed settings (200/304/404, ETag, If-None-Match), the
 * filtered model list, /v1/me and server-side model enforcement, through the official SDK and
 * the real Claude Code CLI, on real PostgreSQL and on PGlite.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { runClaude } from '../support/claude-cli';
import { buildApp } from '../../gateway-server/src/app';
import { managedSettingsEnvelopeSchema } from '../../gateway-server/src/protocol/settings';
import { modelsListSchema } from '../../gateway-server/src/protocol/models';
import { meResponseSchema } from '../../gateway-server/src/protocol/me';

const everyone = {
  name: 'everyone',
  match: {},
  cli: {
    availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
    skipWebFetchPreflight: true,
    enforceAvailableModels: true,
    permissions: { deny: ['Read(./.env)'] },
    env: { DISABLE_UPDATES: '1' },
  },
  vscode: { 'files.exclude': { '**/.env': true } },
};
const engineering = {
  name: 'engineering',
  match: { groups: ['engineering'] },
  cli: { availableModels: ['opus', 'claude-sonnet-4-6'], permissions: { deny: ['WebFetch'] }, env: { TEAM: 'eng' } },
  vscode: { 'github.copilot.enable': { '*': false } },
};
const contractors = { name: 'contractors', match: { email_domain: 'contractors.example' }, settings: { availableModels: ['haiku'] } };

/** Independent of the gateway's canonicalJson: JSON.stringify with a key-sorting replacer. */
function independentChecksum(settings: unknown): string {
  const sorted = (_k: string, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v;
  return `sha256:${createHash('sha256').update(JSON.stringify(settings, sorted), 'utf8').digest('hex')}`;
}

for (const kind of storeKinds()) {
  describe(`policy (${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway; // catch-all + specific policies
    let bare: TestGateway; // specific policies only: unmatched callers get 404 and every model
    let telemetryGw: TestGateway; // telemetry configured, no policies

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      const upstreams = [{ name: 'anthropic', provider: 'anthropic' as const, base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }];
      gw = await startTestGateway({ config: testConfig({ upstreams, managed: { policies: [engineering, contractors, everyone] } }), db: tdb.db });
      bare = await startTestGateway({ config: testConfig({ upstreams, managed: { policies: [engineering] } }), db: tdb.db });
      telemetryGw = await startTestGateway({
        config: testConfig({ upstreams, telemetry: { forward_to: [{ url: 'https://otel.example.com', logs: true }], resource_attributes: { team: 'platform' } } }),
        db: tdb.db,
      });
    });
    after(async () => {
      await gw?.close();
      await bare?.close();
      await telemetryGw?.close();
      await tdb?.drop();
      await mock?.close();
    });
    beforeEach(() => {
      mock.requests.length = 0;
    });

    const get = (g: TestGateway, path: string, token: string | undefined, headers: Record<string, string> = {}) =>
      fetch(`${g.url}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
    const sdk = (g: TestGateway, token: string) => new Anthropic({ baseURL: g.url, authToken: token, apiKey: null, maxRetries: 0 });

    describe('GET /managed/settings', () => {
      it('serves the merged policy with the exact checksum, a quoted ETag and x-cc-gateway-version', async () => {
        const res = await get(gw, '/managed/settings', gw.mint({ groups: ['engineering'] }));
        assert.equal(res.status, 200);
        const body = managedSettingsEnvelopeSchema.parse(await res.json());
        assert.deepEqual(body.settings, {
          availableModels: ['opus', 'claude-sonnet-4-6'],
          skipWebFetchPreflight: true,
          enforceAvailableModels: true,
          permissions: { deny: ['Read(./.env)', 'WebFetch'] },
          env: { DISABLE_UPDATES: '1', TEAM: 'eng' },
        });
        assert.equal(body.checksum, independentChecksum(body.settings));
        assert.equal(body.uuid, body.checksum);
        assert.equal(res.headers.get('etag'), `"${body.checksum}"`);
        assert.ok(res.headers.get('x-cc-gateway-version'));
        assert.ok(!/no-store/.test(res.headers.get('cache-control') ?? ''), 'no Cache-Control: no-store by default');
      });

      it('serves a catch-all-only caller exactly the catch-all (reference test vector 2)', async () => {
        const res = await get(gw, '/managed/settings', gw.mint({ groups: ['sales'], email: 'a@example.com' }));
        const body = managedSettingsEnvelopeSchema.parse(await res.json());
        assert.deepEqual(body.settings, everyone.cli);
        assert.equal(body.checksum, 'sha256:0a3cba1ff62d342b01e498b57d1d68d27fda2315d943ac8b642dc04008c7d7b0');
      });

      it('matches email_domain case-insensitively and accepts the legacy settings: alias', async () => {
        const res = await get(gw, '/managed/settings', gw.mint({ groups: [], email: 'pat@Contractors.EXAMPLE' }));
        const body = managedSettingsEnvelopeSchema.parse(await res.json());
        assert.deepEqual(body.settings.availableModels, ['haiku']);
        assert.deepEqual(body.settings.permissions, { deny: ['Read(./.env)'] }, 'deny list inherited from the catch-all');
      });

      it('records every settings delivery as a managed.serve audit event, 304s included', async () => {
        const token = gw.mint({ sub: 'serve-audit', groups: ['engineering'] });
        const first = await get(gw, '/managed/settings', token);
        const etag = first.headers.get('etag')!;
        await first.arrayBuffer();
        await (await get(gw, '/managed/settings', token, { 'if-none-match': etag })).arrayBuffer();
        const { rows } = await tdb.db.query<{ event: string; outcome: string; detail: Record<string, unknown> }>(
          "SELECT event, outcome, detail FROM audit_log WHERE sub = 'serve-audit' ORDER BY id",
        );
        assert.deepEqual(
          rows.map((r) => [r.event, r.outcome, r.detail.policy_index, r.detail.not_modified, r.detail.checksum === etag.slice(1, -1)]),
          [
            ['managed.serve', 'ok', 0, false, true],
            ['managed.serve', 'ok', 0, true, true],
          ],
        );
      });

      it('answers 304 only to a matching If-None-Match, with ETag and version header, and 200 otherwise', async () => {
        const token = gw.mint({ groups: ['engineering'] });
        const first = await get(gw, '/managed/settings', token);
        const etag = first.headers.get('etag')!;
        await first.arrayBuffer();
        for (const inm of [etag, `W/${etag}`, `"sha256:stale", ${etag}`]) {
          const res = await get(gw, '/managed/settings', token, { 'if-none-match': inm });
          assert.equal(res.status, 304, inm);
          assert.equal(res.headers.get('etag'), etag);
          assert.ok(res.headers.get('x-cc-gateway-version'));
          assert.equal((await res.arrayBuffer()).byteLength, 0);
        }
        for (const inm of ['"sha256:stale"', '*']) {
          const res = await get(gw, '/managed/settings', token, { 'if-none-match': inm });
          assert.equal(res.status, 200, `If-None-Match: ${inm} is answered as if absent`);
          assert.equal(res.headers.get('etag'), etag);
          await res.arrayBuffer();
        }
        // The catch-all's ETag is not the engineering policy's: a group change means a fresh 200.
        const sales = await get(gw, '/managed/settings', gw.mint({ groups: ['sales'] }), { 'if-none-match': etag });
        assert.equal(sales.status, 200);
        await sales.arrayBuffer();
      });

      it('answers 404 not_found_error (not 200 {}) when no policy matches, also for If-None-Match: *', async () => {
        for (const headers of [{}, { 'if-none-match': '*' }] as Record<string, string>[]) {
          const res = await get(bare, '/managed/settings', bare.mint({ groups: ['sales'] }), headers);
          assert.equal(res.status, 404);
          assert.ok(res.headers.get('x-cc-gateway-version'));
          assert.ok(!/no-store/.test(res.headers.get('cache-control') ?? ''));
          const body = (await res.json()) as { type: string; error: { type: string; message: string } };
          assert.equal(body.type, 'error');
          assert.equal(body.error.type, 'not_found_error');
        }
      });

      it('pushes telemetry env under the policy env, synthesising a catch-all when there are no policies', async () => {
        const res = await get(telemetryGw, '/managed/settings', telemetryGw.mint({ groups: [] }));
        const body = managedSettingsEnvelopeSchema.parse(await res.json());
        assert.deepEqual(body.settings, {
          env: {
            CLAUDE_CODE_ENABLE_TELEMETRY: '1',
            OTEL_METRICS_EXPORTER: 'otlp',
            OTEL_LOGS_EXPORTER: 'otlp',
            OTEL_TRACES_EXPORTER: 'none',
            OTEL_EXPORTER_OTLP_ENDPOINT: telemetryGw.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
            OTEL_RESOURCE_ATTRIBUTES: 'team=platform',
          },
        });
        assert.equal(body.checksum, independentChecksum(body.settings));
      });

      it('requires a bearer on every policy route', async () => {
        for (const path of ['/managed/settings', '/v1/models', '/v1/me']) {
          const res = await get(gw, path, undefined);
          assert.equal(res.status, 401, path);
          assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'authentication_error');
        }
      });
    });

    it('logs each policy after the merge at boot, masking secret-looking env values, and warns about ordering', async () => {
      const lines: Record<string, unknown>[] = [];
      const stream = { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) };
      const withSecret = { ...engineering, cli: { ...engineering.cli, env: { TEAM: 'eng', OTEL_EXPORTER_OTLP_HEADERS: 'x-key=hunter2' } } };
      const app = await buildApp({
        config: testConfig({ managed: { policies: [everyone, withSecret] } }),
        db: tdb.db,
        logger: { level: 'info', stream },
      });
      await app.close();
      const merged = lines.find((l) => l.policy === 'engineering')!;
      assert.equal(merged.msg, 'policy engineering after merge');
      assert.equal(merged.level, 30);
      assert.deepEqual((merged.settings as { permissions: unknown }).permissions, { deny: ['Read(./.env)', 'WebFetch'] });
      assert.deepEqual((merged.settings as { env: unknown }).env, { DISABLE_UPDATES: '1', TEAM: 'eng', OTEL_EXPORTER_OTLP_HEADERS: '[redacted]' });
      assert.ok(!JSON.stringify(lines).includes('hunter2'), 'secret not logged');
      assert.ok(lines.some((l) => l.level === 40 && /is not the last policy/.test(String(l.msg))), 'catch-all-not-last warning');
    });

    describe('GET /v1/models', () => {
      it("lists only the caller's models in the Anthropic shape, through the SDK", async () => {
        const page = await sdk(gw, gw.mint({ groups: ['engineering'] })).models.list({ limit: 1000 });
        const ids = page.data.map((m) => m.id);
        assert.deepEqual(ids, ['claude-opus-4-8', 'claude-opus-4-7', 'claude-sonnet-4-6', 'claude-opus-4-1']);
        assert.equal(page.data[0]!.type, 'model');
        assert.equal(page.data[0]!.display_name, 'Claude Opus 4.8');
        const res = await get(gw, '/v1/models?limit=1000', gw.mint({ groups: ['sales'] }));
        const body = modelsListSchema.parse(await res.json());
        assert.deepEqual(body.data.map((m) => m.id), ['claude-sonnet-4-6', 'claude-haiku-4-5']);
        assert.equal(body.has_more, false);
        assert.equal(body.first_id, 'claude-sonnet-4-6');
        assert.equal(body.last_id, 'claude-haiku-4-5');
        assert.ok(body.data.every((m) => typeof m.created_at === 'string' && m.max_input_tokens! > 0));
      });

      it('honours ?limit and after_id, and rejects a bad limit', async () => {
        const token = gw.mint({ groups: ['engineering'] });
        const one = modelsListSchema.parse(await (await get(gw, '/v1/models?limit=1', token)).json());
        assert.deepEqual(one.data.map((m) => m.id), ['claude-opus-4-8']);
        assert.equal(one.has_more, true);
        const next = modelsListSchema.parse(await (await get(gw, `/v1/models?limit=2&after_id=${one.last_id}`, token)).json());
        assert.deepEqual(next.data.map((m) => m.id), ['claude-opus-4-7', 'claude-sonnet-4-6']);
        const bad = await get(gw, '/v1/models?limit=0', token);
        assert.equal(bad.status, 400);
        assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
      });

      it('lists every catalogue model for a caller no policy matches', async () => {
        const body = modelsListSchema.parse(await (await get(bare, '/v1/models?limit=1000', bare.mint({ groups: ['sales'] }))).json());
        assert.equal(body.data.length, 7);
      });
    });

    describe('GET /v1/me', () => {
      it('says who the caller is, which policy matched, the models and the VS Code settings', async () => {
        const token = gw.mint({ sub: 'u-42', email: 'eve@example.com', name: 'Eve', groups: ['engineering', 'oncall'] });
        const me = meResponseSchema.parse(await (await get(gw, '/v1/me', token)).json());
        const settings = managedSettingsEnvelopeSchema.parse(await (await get(gw, '/managed/settings', token)).json());
        assert.equal(me.sub, 'u-42');
        assert.equal(me.email, 'eve@example.com');
        assert.equal(me.name, 'Eve');
        assert.deepEqual(me.groups, ['engineering', 'oncall']);
        assert.deepEqual(me.policy, { matched: true, name: 'engineering', index: 0 });
        assert.deepEqual(me.available_models.map((m) => m.id), ['claude-opus-4-8', 'claude-opus-4-7', 'claude-sonnet-4-6', 'claude-opus-4-1']);
        assert.deepEqual(me.vscode_settings, { 'files.exclude': { '**/.env': true }, 'github.copilot.enable': { '*': false } });
        assert.equal(me.managed_settings_checksum, settings.checksum);
      });

      it('reports an unmatched caller as such', async () => {
        const me = meResponseSchema.parse(await (await get(bare, '/v1/me', bare.mint({ groups: [], email: undefined }))).json());
        assert.deepEqual(me.policy, { matched: false, name: null, index: null });
        assert.equal(me.email, null, 'token without email');
        assert.equal(me.managed_settings_checksum, null);
        assert.deepEqual(me.vscode_settings, {});
        assert.equal(me.available_models.length, 7);
      });
    });

    describe('model enforcement on /v1/messages and count_tokens', () => {
      it('refuses a model outside availableModels with 400 naming the model; nothing reaches the upstream', async () => {
        const client = sdk(gw, gw.mint({ groups: ['sales'] }));
        const expected =
          "model claude-opus-4-8 is not in your policy's availableModels allowlist; allowed: claude-sonnet-4-6, claude-haiku-4-5. Ask your gateway administrator for access.";
        await assert.rejects(
          client.messages.create({ model: 'claude-opus-4-8', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
          (err: Error & { status?: number; error?: { error?: { type: string; message: string } } }) =>
            err.status === 400 && err.error?.error?.type === 'invalid_request_error' && err.error.error.message === expected,
        );
        await assert.rejects(
          client.messages.countTokens({ model: 'claude-opus-4-8', messages: [{ role: 'user', content: 'hi' }] }),
          (err: Error & { status?: number }) => err.status === 400 && err.message.includes('model claude-opus-4-8 is not in your policy'),
        );
        assert.equal(mock.requests.length, 0);
      });

      it('serves allowed models, dated aliases included, on messages and count_tokens', async () => {
        const client = sdk(gw, gw.mint({ groups: ['sales'] }));
        const msg = await client.messages.create({ model: 'claude-haiku-4-5-20251001', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(msg.type, 'message');
        const count = await client.messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(count.input_tokens, 25);
        assert.equal(mock.requests.length, 2);
      });

      it('lets a specific policy replace the catch-all allow-list', async () => {
        const client = sdk(gw, gw.mint({ groups: ['engineering'] }));
        await client.messages.create({ model: 'claude-opus-4-8', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
        await assert.rejects(
          client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
          (err: Error & { status?: number }) => err.status === 400 && /model claude-haiku-4-5 is not in your policy/.test(err.message),
        );
      });

      it('lets an unmatched caller use every catalogue model and refuses unknown ones', async () => {
        const token = bare.mint({ groups: [] });
        await sdk(bare, token).messages.create({ model: 'claude-opus-4-8', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
        const res = await fetch(`${bare.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o', max_tokens: 5, messages: [] }),
        });
        assert.equal(res.status, 400);
        assert.match(((await res.json()) as { error: { message: string } }).error.message, /model gpt-4o is not offered by this gateway/);
      });

      it('answers a missing or non-string model as the protocol says, before the allow-list', async () => {
        const token = gw.mint({ groups: ['sales'] });
        for (const [path, body, message] of [
          ['/v1/messages', '{"max_tokens":1}', 'model is required'],
          ['/v1/messages', '{"model":""}', 'model is required'],
          ['/v1/messages/count_tokens', '{"model":["claude-sonnet-4-6"]}', 'model must be a string'],
        ] as const) {
          const res = await fetch(`${gw.url}${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
          assert.equal(res.status, 400);
          const json = (await res.json()) as { error: { type: string; message: string } };
          assert.deepEqual(json.error, { type: 'invalid_request_error', message });
        }
      });

      it('the real Claude Code CLI is refused a disallowed model with the gateway message, and an allowed model answers', async function () {
        this.timeout(120_000);
        const token = gw.mint({ groups: ['sales'] });
        const refused = await runClaude({ baseUrl: gw.url, token, prompt: 'say hi', model: 'claude-opus-4-8' });
        const out = refused.stdout + refused.stderr;
        if (process.env.SHOW_CLI_OUTPUT) console.log(JSON.stringify(refused));
        assert.notEqual(refused.code, 0, out);
        assert.match(out, /model claude-opus-4-8 is not in your policy's availableModels allowlist; allowed: claude-sonnet-4-6, claude-haiku-4-5\. Ask your gateway administrator for access\./);
        const ok = await runClaude({ baseUrl: gw.url, token, prompt: 'say hi', model: 'claude-sonnet-4-6' });
        assert.equal(ok.code, 0, ok.stdout + ok.stderr);
        assert.match(ok.stdout, /Hello from the mock upstream/);
      });
    });
  });
}

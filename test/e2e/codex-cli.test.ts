/**
 * The real OpenAI Codex CLI (0.171.0, native binary) through the gateway, configured the way a
 * developer does it: `tollgate login` (device grant approved in the IdP), then
 * `tollgate setup codex` writing the provider into a temporary CODEX_HOME, with
 * `tollgate token` as Codex's auth command. The upstream is the loopback OpenAI Responses mock.
 * On both stores: a scripted two-turn tool call (the tool runs, the final text arrives), a
 * bearer that stops working between the two turns (Codex re-runs `tollgate token`, which
 * refreshes), a model outside the policy (Codex shows the gateway's message, nothing goes
 * upstream), and a user at a cap (Codex stops at once).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { completeDeviceSignIn, startGatewayWithIdp } from '../support/test-idp';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai';
import { setSpendLimit } from '../support/spend-limits';
import { cliHome, loginWith, runTollgate, type CliHome } from '../support/tollgate-cli';
import { codexLauncher, runCodex } from '../support/codex-cli';
import { waitFor } from '../support/wait';

const UPSTREAM_KEY = 'sk-openai-upstream-for-codex';
const ADMIN_KEY = 'admin-write-key-0123456789abcdef0123456789';
const MODEL = 'gpt-5-codex';
const TOOL_MARK = 'tollgate-tool-ran-7f3a';

/** What a developer typically has before setting up: kept by `tollgate setup codex`; also keeps Codex offline. */
const DEVELOPER_CONFIG = `approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false
[analytics]
enabled = false
[features]
plugins = false
`;

/** The agent's final message from `codex exec --json` (JSONL events). */
function finalText(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    try {
      const e = JSON.parse(line) as { type?: string; item?: { type?: string; text?: string } };
      if (e.type === 'item.completed' && e.item?.type === 'agent_message' && e.item.text) out.push(e.item.text);
    } catch {
      // not an event line
    }
  }
  return out;
}

const posts = (m: MockOpenAI) => m.requests.filter((r) => r.method === 'POST');

for (const kind of storeKinds()) {
  describe(`the real Codex CLI through the gateway (${kind})`, function () {
    this.timeout(300_000);
    let tdb: TestDatabase;
    let mock: MockOpenAI;
    let gw: Awaited<ReturnType<typeof startGatewayWithIdp>>;
    const offset = { ms: 0, afterFirstTurn: 0 };
    // The gateway's clock; `afterFirstTurn` jumps it forward once the upstream has seen a turn,
    // so the bearer Codex holds expires exactly between two turns of one `codex exec`.
    const clock = { now: () => Date.now() + offset.ms + (posts(mock).length >= 1 ? offset.afterFirstTurn : 0) };

    before(async function () {
      codexLauncher(); // fails with a sentence saying how to install when the CLI is missing
      mock = await startMockOpenAI({ apiKey: UPSTREAM_KEY });
      tdb = await createTestDatabase(kind);
      gw = await startGatewayWithIdp({
        db: tdb.db,
        config: {
          upstreams: [{ name: 'openai', provider: 'openai', base_url: mock.baseUrl, auth: { api_key: UPSTREAM_KEY } }],
          admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
          rate_limits: { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } },
          managed: { policies: [{ name: 'everyone', match: {}, codex: { availableModels: [MODEL], config: { model_reasoning_effort: 'low' } } }] },
        },
        deps: { clock },
      });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });
    beforeEach(() => {
      mock.queue = [];
      mock.defaults = {};
      mock.requests.length = 0;
      offset.ms = 0;
      offset.afterFirstTurn = 0;
    });

    /** A developer machine signed in as `login` with Codex set up by `tollgate setup codex` (the built bundle). */
    async function developer(login = 'alice'): Promise<CliHome> {
      const home = cliHome();
      mkdirSync(home.env.CODEX_HOME!, { recursive: true });
      writeFileSync(join(home.env.CODEX_HOME!, 'config.toml'), DEVELOPER_CONFIG);
      const signIn = await loginWith(gw.url, home.env, (url) => completeDeviceSignIn(url, { login }), true);
      assert.equal(signIn.code, 0, signIn.stderr);
      const setup = await runTollgate(['setup', 'codex', '--gateway', gw.url, '--model', MODEL], home.env, true);
      assert.equal(setup.code, 0, setup.stderr);
      return home;
    }

    const codex = (home: CliHome, prompt: string, model = MODEL) =>
      runCodex({ codexHome: home.env.CODEX_HOME!, prompt, model, env: { XDG_CONFIG_HOME: home.env.XDG_CONFIG_HOME!, HOME: home.dir }, extraArgs: ['--strict-config'] });

    /** Audit rows are written after the reply: wait until `n` are there. */
    const inferenceRows = (email: string, n: number) =>
      waitFor(`${n} inference audit rows for ${email}`, async () => {
        const { rows } = await tdb.db.query<{ status: number; model: string; input_tokens: string; cache_read_tokens: string; output_tokens: string; cost_micros: string }>(
          "SELECT status, model, input_tokens::text, cache_read_tokens::text, output_tokens::text, cost_micros::text FROM audit_log WHERE event = 'inference' AND email = $1 ORDER BY id",
          [email],
        );
        return rows.length >= n ? rows : undefined;
      });

    it('runs a two-turn tool call: the tool runs, the final text arrives, the upstream sees only its key', async () => {
      const home = await developer();
      mock.defaults = { toolCall: { name: 'exec_command', arguments: JSON.stringify({ cmd: `echo ${TOOL_MARK}` }) }, reply: { text: 'The tool said hello.' } };
      const r = await codex(home, 'Run the echo command, then tell me what it printed.');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(finalText(r.stdout), ['The tool said hello.']);
      const turns = posts(mock);
      assert.equal(turns.length, 2);
      const output = JSON.stringify((turns[1]!.json!.input as unknown[]).filter((i) => (i as { type?: string }).type === 'function_call_output'));
      assert.match(output, new RegExp(TOOL_MARK), 'the tool ran and its output went back to the model');
      for (const t of mock.requests) assert.equal(t.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
      const rows = await inferenceRows('alice@example.com', 2);
      assert.deepEqual(rows.map((x) => [x.status, x.model]), [[200, MODEL], [200, MODEL]]);
      // Oracle: the mock's usage (1200 input of which 1024 cached, 300 output of which 256 reasoning)
      // at gpt-5-codex list prices (1.25 / 0.125 / 10 $ per million tokens), in micro-dollars.
      const cost = (1200 - 1024) * 1.25 + 1024 * 0.125 + 300 * 10;
      for (const x of rows) assert.deepEqual([x.input_tokens, x.cache_read_tokens, x.output_tokens, x.cost_micros], ['176', '1024', '300', String(cost)]);
    });

    it('re-runs `tollgate token` after a 401 between two turns and finishes with the refreshed bearer', async () => {
      const home = await developer();
      offset.afterFirstTurn = 2 * 3600_000; // past the session TTL once turn one reached the upstream
      mock.defaults = { toolCall: { name: 'exec_command', arguments: JSON.stringify({ cmd: `echo ${TOOL_MARK}` }) }, reply: { text: 'Finished after a refresh.' } };
      const file = readFileSync(join(home.env.CODEX_HOME!, 'config.toml'), 'utf8');
      assert.match(file, /command = /);
      const r = await codex(home, 'Run the echo command, then tell me what it printed.');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(finalText(r.stdout), ['Finished after a refresh.']);
      assert.equal(posts(mock).length, 2);
      const refreshes = await tdb.db.query("SELECT 1 FROM audit_log WHERE event = 'session.refresh' AND email = 'alice@example.com'");
      assert.ok(refreshes.rows.length >= 1, 'the second turn went through on a refreshed session');
    });

    it('stops with the sign-in sentence when the session is revoked between two turns', async () => {
      const home = await developer(); // a revocation cuts off sessions issued before it: later sign-ins are unaffected
      const tool = { name: 'exec_command', arguments: JSON.stringify({ cmd: `echo ${TOOL_MARK}` }) };
      // Turn one is held at the upstream until the revocation is in place (auth already passed).
      mock.queue = [{ toolCall: tool, firstByteDelayMs: 3000 }];
      mock.defaults = { toolCall: tool };
      const t = await runTollgate(['token'], home.env, true);
      const me = (await (await fetch(`${gw.url}/v1/me`, { headers: { authorization: `Bearer ${t.stdout.trim()}` } })).json()) as { sub: string };
      const run = codex(home, 'Run the echo command, then tell me what it printed.');
      await waitFor('turn one at the upstream', () => posts(mock).length >= 1);
      const revoke = await fetch(`${gw.url}/v1/organizations/users/${encodeURIComponent(me.sub)}/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
      assert.equal(revoke.status, 200);
      const r = await run;
      assert.notEqual(r.code, 0);
      assert.equal(posts(mock).length, 1, 'the second turn never reached the upstream');
      assert.match(r.stdout + r.stderr, /run `tollgate login --gateway http:\/\/127\.0\.0\.1:\d+` to sign in again/);
    });

    it('shows the gateway\'s message for a model outside the policy; nothing reaches the upstream', async () => {
      const home = await developer();
      const r = await codex(home, 'hello', 'gpt-5-nano');
      assert.notEqual(r.code, 0);
      assert.match(r.stdout, /model gpt-5-nano is not in your policy's codex\.availableModels allowlist; allowed: gpt-5-codex\. Pick an allowed model/);
      assert.equal(posts(mock).length, 0);
    });

    it('stops at once for a user at a cap', async () => {
      const home = await developer('bob');
      const t = await runTollgate(['token'], home.env, true);
      const me = (await (await fetch(`${gw.url}/v1/me`, { headers: { authorization: `Bearer ${t.stdout.trim()}` } })).json()) as { sub: string };
      await setSpendLimit({ via: gw.url, adminKey: ADMIN_KEY, userId: me.sub, amount: '50' });
      const r = await codex(home, 'hello');
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /Quota exceeded/);
      assert.equal(posts(mock).length, 0);
      // Not retried: exactly one refused request reached the gateway.
      const rows = await inferenceRows('bob@example.com', 1);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.status, 429);
    });
  });
}

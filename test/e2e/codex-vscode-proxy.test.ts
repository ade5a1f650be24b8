/**
 * The real Codex CLI (0.171.0, native binary) with the profile "Tollgate: Set Up Codex" writes,
 * through the extension's loopback proxy to a real gateway (PGlite) and the loopback OpenAI
 * Responses upstream: Codex accepts the profile file and sends the window's local key, the proxy
 * swaps in the session, the upstream sees only its own key, and the answer arrives; a capped
 * user's refusal stops Codex at once and is the window's "over cap" block with the gateway's
 * sentence; a session revoked at the gateway reaches the window's session manager; without the
 * key (a terminal outside the window) Codex stops with the profile's instructions; with a wrong
 * key it prints the proxy's sentence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCodex } from '../support/codex-cli';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { setSpendLimit } from '../support/spend-limits';
import { startLoopbackProxy, type LoopbackProxy, type ProxiedRequest } from '../../extension/src/proxy/loopback-proxy';
import { blockFromReply } from '../../extension/src/status/block';
import { CODEX_PROFILE, PROXY_KEY_ENV, writeProxyProfile } from '../../extension/src/codex/setup-codex';

const OPENAI_KEY = 'sk-openai-upstream-key';
const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
const MODEL = 'gpt-5-codex';

describe('the real Codex CLI through the extension\'s loopback proxy', function () {
  this.timeout(180_000);
  let upstream: MockOpenAI;
  let tdb: TestDatabase;
  let gw: TestGateway;
  let proxy: LoopbackProxy;
  let sessionToken: string;
  const done: ProxiedRequest[] = [];
  const rejected: string[] = [];

  before(async function () {
    this.timeout(120_000);
    upstream = await startMockOpenAI({ apiKey: OPENAI_KEY });
    tdb = await createTestDatabase('pglite');
    const config = testConfig({
      upstreams: [{ name: 'openai', provider: 'openai', base_url: upstream.baseUrl, auth: { api_key: OPENAI_KEY } }],
      admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      managed: { policies: [{ name: 'everyone', match: {}, codex: { availableModels: [MODEL] } }] },
    });
    gw = await startTestGateway({ config, db: tdb.db });
    proxy = await startLoopbackProxy({ target: async () => ({ baseUrl: gw.url, token: sessionToken }), onRequestDone: (r) => done.push(r), onRejected: (t) => rejected.push(t) });
  });
  after(async () => {
    await proxy?.close();
    await gw?.close();
    await tdb?.drop();
    await upstream?.close();
  });
  beforeEach(() => {
    sessionToken = gw.mint();
    done.length = 0;
    rejected.length = 0;
    upstream.requests.length = 0;
    upstream.queue = [];
  });

  const home = async (makeDefault: boolean) => {
    const codexHome = mkdtempSync(join(tmpdir(), 'codex-home-'));
    await writeProxyProfile({ codexHome, proxyUrl: proxy.url, makeDefault });
    return codexHome;
  };

  it('`codex exec --profile tollgate-vscode` in a window terminal answers through the proxy with the session swapped in', async () => {
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: MODEL, prompt: 'Say hello', env: { [PROXY_KEY_ENV]: proxy.secret } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Hello from the mock OpenAI upstream\./);
    assert.ok(upstream.requests.some((r) => r.url === '/v1/responses'), 'the turn reached the upstream');
    for (const r of upstream.requests) assert.equal(r.headers.authorization, `Bearer ${OPENAI_KEY}`, 'the upstream sees only its own key');
    const turn = done.find((d) => d.path === '/v1/responses' && d.status === 200);
    assert.ok(turn, JSON.stringify(done));
    assert.deepEqual([turn.model, turn.inputTokens, turn.outputTokens], [MODEL, 1200, 300]);
    assert.ok(turn.requestId, 'the gateway\'s audit id, for the cost lookup');
  });

  it('as the default provider, plain `codex exec` goes through the proxy too', async () => {
    const run = await runCodex({ codexHome: await home(true), model: MODEL, prompt: 'Say hello', env: { [PROXY_KEY_ENV]: proxy.secret } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Hello from the mock OpenAI upstream\./);
  });

  it('outside the window (no key in the environment) Codex stops with the profile\'s instructions, reaching nothing', async () => {
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: MODEL, prompt: 'Say hello' });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /Missing environment variable: `TOLLGATE_PROXY_KEY`\. Open a new terminal in the VS Code window where the Tollgate extension is signed in\./);
    assert.deepEqual(upstream.requests, []);
    assert.deepEqual(done, []);
  });

  it('with another window\'s key Codex prints the proxy\'s sentence, and nothing reaches the gateway', async () => {
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: MODEL, prompt: 'Say hello', env: { [PROXY_KEY_ENV]: 'tgl-another-window' } });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /only accepts the token of the editor window that started it/);
    assert.deepEqual(upstream.requests, []);
    assert.deepEqual(done, []);
  });

  it('a capped user: Codex stops at once and the window shows "over cap" with the gateway\'s sentence; nothing reaches the upstream', async () => {
    await setSpendLimit({ via: gw.url, adminKey: WRITE_KEY, userId: 'capped-user', amount: '50' });
    sessionToken = gw.mint({ sub: 'capped-user' });
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: MODEL, prompt: 'Say hello', env: { [PROXY_KEY_ENV]: proxy.secret } });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /Quota exceeded/);
    const refused = done.filter((d) => d.path === '/v1/responses');
    assert.equal(refused.length, 1, 'not retried');
    const block = blockFromReply(refused[0]!.status, refused[0]!.error, refused[0]!.at);
    assert.equal(block?.kind, 'overCap');
    assert.match(block!.reason, /^Spend limit reached \(daily; resets .+\)/);
    assert.deepEqual(upstream.requests.filter((r) => r.url === '/v1/responses'), []);
  });

  it('a session revoked at the gateway: Codex gets 401 and the proxy reports the refused bearer to the window\'s session manager', async () => {
    sessionToken = gw.mint({ sub: 'offboarded-user' });
    const revoke = await fetch(`${gw.url}/v1/organizations/users/offboarded-user/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': WRITE_KEY } });
    assert.equal(revoke.status, 200, await revoke.text());
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: MODEL, prompt: 'Say hello', env: { [PROXY_KEY_ENV]: proxy.secret } });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /401 Unauthorized/);
    assert.ok(rejected.length >= 1 && rejected.every((t) => t === sessionToken), 'the proxy reported the refused bearer to the session manager');
    assert.deepEqual(upstream.requests.filter((r) => r.url === '/v1/responses'), []);
  });
});

/**
 * The real Codex CLI (0.171.0, native binary) with the profile "Tollgate: Set Up Codex" writes,
 * through the extension's loopback proxy: Codex accepts the profile file, sends the window's
 * local key, the proxy swaps in the session, and the answer arrives; without the key (a
 * terminal outside the window) Codex stops with the profile's instructions; with a wrong key it
 * prints the proxy's sentence.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenLoopback, type Loopback } from '../support/loopback-server';
import { runCodex } from '../support/codex-cli';
import { startLoopbackProxy, type LoopbackProxy, type ProxiedRequest } from '../../extension/src/proxy/loopback-proxy';
import { CODEX_PROFILE, PROXY_KEY_ENV, writeProxyProfile } from '../../extension/src/codex/setup-codex';
import { responsesTextStream } from '../support/responses-stream';

describe('the real Codex CLI through the extension\'s loopback proxy', function () {
  this.timeout(180_000);
  let gateway: Loopback;
  let proxy: LoopbackProxy;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  const done: ProxiedRequest[] = [];

  before(async () => {
    // Stands in for the gateway's /v1 root (the wire format Codex accepts, codex-client.md).
    gateway = await listenLoopback(
      createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          seen.push({ method: req.method!, url: req.url!, headers: req.headers });
          if (req.url?.startsWith('/v1/models')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[],"models":[]}');
          res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'audit-codex-1' }).end(responsesTextStream('Hello from the gateway, via the editor.'));
        });
      }),
    );
    proxy = await startLoopbackProxy({ target: async () => ({ baseUrl: gateway.url, token: 'gateway-session-bearer' }), onRequestDone: (r) => done.push(r) });
  });
  after(async () => {
    await proxy?.close();
    await gateway?.close();
  });
  beforeEach(() => {
    seen = [];
    done.length = 0;
  });

  const home = async (makeDefault: boolean) => {
    const codexHome = mkdtempSync(join(tmpdir(), 'codex-home-'));
    await writeProxyProfile({ codexHome, proxyUrl: proxy.url, makeDefault });
    return codexHome;
  };

  it('`codex exec --profile tollgate-vscode` in a window terminal answers through the proxy with the session swapped in', async () => {
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: 'gpt-5.5', prompt: 'Say hello', env: { [PROXY_KEY_ENV]: proxy.secret } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Hello from the gateway, via the editor\./);
    const posts = seen.filter((s) => s.method === 'POST');
    assert.ok(posts.length >= 1 && posts.every((s) => s.url === '/v1/responses'), JSON.stringify(seen.map((s) => s.url)));
    for (const s of seen) assert.equal(s.headers.authorization, 'Bearer gateway-session-bearer');
    assert.ok(done.some((d) => d.path === '/v1/responses' && d.requestId === 'audit-codex-1' && d.inputTokens > 0));
  });

  it('as the default provider, plain `codex exec` goes through the proxy too', async () => {
    const run = await runCodex({ codexHome: await home(true), model: 'gpt-5.5', prompt: 'Say hello', env: { [PROXY_KEY_ENV]: proxy.secret } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Hello from the gateway, via the editor\./);
  });

  it('outside the window (no key in the environment) Codex stops with the profile\'s instructions, reaching nothing', async () => {
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: 'gpt-5.5', prompt: 'Say hello' });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /Missing environment variable: `TOLLGATE_PROXY_KEY`\. Open a new terminal in the VS Code window where the Tollgate extension is signed in\./);
    assert.deepEqual(seen, []);
  });

  it('with another window\'s key Codex prints the proxy\'s sentence, and nothing reaches the gateway', async () => {
    const run = await runCodex({ codexHome: await home(false), profile: CODEX_PROFILE, model: 'gpt-5.5', prompt: 'Say hello', env: { [PROXY_KEY_ENV]: 'tgl-another-window' } });
    assert.notEqual(run.code, 0);
    assert.match(run.stdout + run.stderr, /only accepts the token of the editor window that started it/);
    assert.deepEqual(seen, []);
  });
});

/**
 * The extension serving Codex: its loopback proxy forwards the OpenAI Responses API with the
 * gateway session swapped in and answers its own refusals in OpenAI's envelope, reads token
 * counts from `response.completed`, keeps its port across restarts when it can; "Set Up Codex"
 * writes a Codex profile pointing at the proxy (and, as the default, merges it into an existing
 * config.toml without losing the developer's settings). The gateway side here is a loopback server speaking the Responses wire
 * format (the real-gateway path is covered by the Codex CLI e2e tests).
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { listenLoopback, type Loopback } from '../support/loopback-server';
import { startLoopbackProxy, type LoopbackProxy, type ProxiedRequest } from '../../extension/src/proxy/loopback-proxy';
import { apiFamily } from '../../extension/src/proxy/api-family';
import { CODEX_PROFILE, PROXY_KEY_ENV, writeProxyProfile } from '../../extension/src/codex/setup-codex';
import { DEFAULT_OPENAI_REPLY, openaiSseEvent, responseEvents } from '../support/mock-openai';

/** The mock upstream's stream for a text turn (usage: 1200 input incl. 1024 cached, 300 output incl. 256 reasoning). */
const responsesStream = (text: string) => responseEvents({ ...DEFAULT_OPENAI_REPLY, text }, 'gpt-5.5', undefined, 1764806400).map(openaiSseEvent).join('');

describe('extension: Codex through the loopback proxy', function () {
  let gateway: Loopback;
  let proxy: LoopbackProxy;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  let signedIn: boolean;
  let done: ProxiedRequest[];

  before(async () => {
    gateway = await listenLoopback(
      createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
          if (req.url?.startsWith('/v1/models')) {
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[],"models":[]}');
            return;
          }
          res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'audit-123' });
          res.end(responsesStream('Hello from the Responses stream.'));
        });
      }),
    );
    proxy = await startLoopbackProxy({ target: async () => (signedIn ? { baseUrl: gateway.url, token: 'gateway-session-bearer' } : undefined), onRequestDone: (r) => done.push(r) });
  });
  after(async () => {
    await proxy?.close();
    await gateway?.close();
  });
  beforeEach(() => {
    seen = [];
    done = [];
    signedIn = true;
  });

  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = httpRequest(`${proxy.url}${path}`, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const codexBody = JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], stream: true, store: false });

  it('tells the API families apart by path and headers', () => {
    assert.equal(apiFamily('/v1/responses', {}), 'openai');
    assert.equal(apiFamily('/v1/models?client_version=0.171.0', {}), 'openai');
    assert.equal(apiFamily('/v1/models?limit=1000', { 'anthropic-version': '2023-06-01' }), 'anthropic');
    assert.equal(apiFamily('/v1/messages?beta=true', {}), 'anthropic');
  });

  it('forwards /v1/responses and /v1/models with the session swapped in, the stream and body unchanged', async () => {
    const r = await call('POST', '/v1/responses', { authorization: `Bearer ${proxy.secret}`, accept: 'text/event-stream', 'session-id': 'sess-1' }, codexBody);
    assert.equal(r.status, 200);
    assert.equal(r.body, responsesStream('Hello from the Responses stream.'));
    const models = await call('GET', '/v1/models?client_version=0.171.0', { authorization: `Bearer ${proxy.secret}` });
    assert.deepEqual(JSON.parse(models.body), { object: 'list', data: [], models: [] });
    assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), ['POST /v1/responses', 'GET /v1/models?client_version=0.171.0']);
    for (const s of seen) assert.equal(s.headers.authorization, 'Bearer gateway-session-bearer');
    assert.equal(seen[0]!.body, codexBody);
    assert.equal(seen[0]!.headers['session-id'], 'sess-1');
    assert.ok(!JSON.stringify(seen).includes(proxy.secret), 'the local secret never leaves the machine');
  });

  it('reads model, tokens and the audit id of a Responses stream for the status bar', async () => {
    await call('POST', '/v1/responses', { authorization: `Bearer ${proxy.secret}` }, codexBody);
    assert.equal(done.length, 1);
    const d = done[0]!;
    assert.deepEqual([d.path, d.model, d.inputTokens, d.outputTokens, d.requestId, d.status], ['/v1/responses', 'gpt-5.5', 1200, 300, 'audit-123', 200]);
  });

  it('refuses a wrong key or a signed-out window with 401 invalid_api_key in OpenAI\'s envelope', async () => {
    const wrong = await call('POST', '/v1/responses', { authorization: 'Bearer tgl-wrong' }, codexBody);
    assert.equal(wrong.status, 401);
    const body = JSON.parse(wrong.body);
    assert.equal(body.error.code, 'invalid_api_key');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /only accepts the token of the editor window/);
    signedIn = false;
    const out = JSON.parse((await call('POST', '/v1/responses', { authorization: `Bearer ${proxy.secret}` }, codexBody)).body);
    assert.equal(out.error.code, 'invalid_api_key');
    assert.match(out.error.message, /Tollgate: Sign In/);
    assert.equal(seen.length, 0, 'nothing reached the gateway');
    // Claude Code's refusals keep the Anthropic envelope.
    const claude = JSON.parse((await call('POST', '/v1/messages', { 'x-api-key': 'tgl-wrong' }, '{}')).body);
    assert.deepEqual([claude.type, claude.error.type], ['error', 'authentication_error']);
  });

  it('answers a WebSocket upgrade with 426 so Codex falls back to HTTP at once, reaching nothing', async () => {
    const r = await call('GET', '/v1/responses', { authorization: `Bearer ${proxy.secret}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    assert.equal(r.status, 426);
    assert.match(JSON.parse(r.body).error.message, /HTTP only/);
    assert.equal(seen.length, 0);
  });

  it('reuses its previous port when free and takes any port when another window holds it', async () => {
    const first = await startLoopbackProxy({ target: async () => undefined });
    const port = first.port;
    const second = await startLoopbackProxy({ target: async () => undefined }, { preferredPort: port });
    assert.notEqual(second.port, port, 'the held port is not fought over');
    await first.close();
    await second.close();
    const third = await startLoopbackProxy({ target: async () => undefined }, { preferredPort: port });
    assert.equal(third.port, port);
    await third.close();
  });

  it('"Set Up Codex" writes a profile file pointing at the proxy and leaves config.toml alone', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tollgate-codex-home-'));
    const config = ['model = "gpt-5.5"', 'approval_policy = "on-request"', '', '[mcp_servers.docs]', 'command = "docs-mcp"', ''].join('\n');
    writeFileSync(join(home, 'config.toml'), config);
    // The policy cannot redirect the provider: its keys go first and the provider is ours.
    const written = await writeProxyProfile({ codexHome: home, proxyUrl: proxy.url, managed: { config: { model_reasoning_effort: 'medium', model_provider: 'elsewhere' } } });
    assert.deepEqual(written, [join(home, `${CODEX_PROFILE}.config.toml`)]);
    assert.equal(readFileSync(join(home, 'config.toml'), 'utf8'), config);
    const text = readFileSync(written[0]!, 'utf8');
    // JSON round trip: smol-toml builds tables with a null prototype.
    const doc = JSON.parse(JSON.stringify(parse(text))) as Record<string, any>;
    assert.equal(doc.model_reasoning_effort, 'medium');
    assert.equal(doc.model_provider, CODEX_PROFILE);
    const provider = doc.model_providers[CODEX_PROFILE];
    assert.equal(provider.base_url, `${proxy.url}/v1`);
    assert.equal(provider.wire_api, 'responses');
    assert.equal(provider.supports_websockets, false);
    assert.equal(provider.env_key, PROXY_KEY_ENV);
    assert.equal(provider.auth, undefined, 'no command and no credential in the file');
    assert.ok(!text.includes(proxy.secret));
  });

  it('"Set Up Codex" as the default merges the provider into config.toml, keeping the developer\'s settings', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tollgate-codex-home-'));
    writeFileSync(
      join(home, 'config.toml'),
      ['# my comment', 'model = "gpt-5.5"', 'model_provider = "other"', '', '[mcp_servers.docs]', 'command = "docs-mcp"', 'args = ["--port", "7"]', '', '[model_providers.other]', 'name = "Other"', 'base_url = "https://other.example/v1"', ''].join('\n'),
    );
    const original = readFileSync(join(home, 'config.toml'), 'utf8');
    const written = await writeProxyProfile({ codexHome: home, proxyUrl: proxy.url, makeDefault: true });
    assert.deepEqual(written, [join(home, `${CODEX_PROFILE}.config.toml`), join(home, 'config.toml'), join(home, 'config.toml.before-tollgate')]);
    assert.equal(readFileSync(join(home, 'config.toml.before-tollgate'), 'utf8'), original, 'the file as it was, comments and all');
    const doc = JSON.parse(JSON.stringify(parse(readFileSync(join(home, 'config.toml'), 'utf8')))) as Record<string, any>;
    assert.equal(doc.model, 'gpt-5.5');
    assert.equal(doc.model_provider, CODEX_PROFILE);
    assert.deepEqual(doc.mcp_servers.docs, { command: 'docs-mcp', args: ['--port', '7'] });
    assert.equal(doc.model_providers.other.base_url, 'https://other.example/v1');
    assert.equal(doc.model_providers[CODEX_PROFILE].env_key, PROXY_KEY_ENV);
    assert.equal(doc.profile, undefined, 'Codex 0.171 refuses a `profile =` selector');
    assert.equal(doc.profiles, undefined, 'Codex 0.171 refuses [profiles.*] tables');
  });

  it('"Set Up Codex" refuses a config.toml that is not TOML and leaves it untouched', async () => {
    const home = mkdtempSync(join(tmpdir(), 'tollgate-codex-home-'));
    writeFileSync(join(home, 'config.toml'), 'model = "unterminated\n');
    await assert.rejects(writeProxyProfile({ codexHome: home, proxyUrl: proxy.url, makeDefault: true }), /is not valid TOML .* Nothing was changed\./);
    assert.equal(readFileSync(join(home, 'config.toml'), 'utf8'), 'model = "unterminated\n');
    assert.ok(!existsSync(join(home, `${CODEX_PROFILE}.config.toml`)), 'no profile file either');
  });
});

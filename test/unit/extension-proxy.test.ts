/**
 * The loopback proxy against a real gateway (buildApp on PGlite) and the loopback Anthropic
 * upstream, driven by the official SDK as an agent would: auth by local secret only, the
 * bearer swapped in, streams relayed as they arrive, usage recorded.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { blockFromReply } from '../../extension/src/status/block';
import { waitFor } from '../support/wait';
import { startLoopbackProxy, type LoopbackProxy, type ProxiedRequest } from '../../extension/src/proxy/loopback-proxy';

describe('extension loopback proxy (real gateway, PGlite)', function () {
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  let gw: TestGateway;
  let proxy: LoopbackProxy;
  let token: string | undefined;
  let done: ProxiedRequest[];
  let rejected: string[];
  let headersSeen: number;

  before(async function () {
    this.timeout(120_000);
    mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    tdb = await createTestDatabase('pglite');
    gw = await startTestGateway({ config: testConfig({ upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }] }), db: tdb.db });
    proxy = await startLoopbackProxy({
      target: async () => (token ? { baseUrl: gw.url, token } : undefined),
      onRequestDone: (r) => done.push(r),
      onRejected: (t) => rejected.push(t),
      onResponseHeaders: () => void headersSeen++,
    });
  });
  after(async () => {
    await proxy?.close();
    await gw?.close();
    await tdb?.drop();
    await mock?.close();
  });
  beforeEach(() => {
    token = gw.mint();
    done = [];
    rejected = [];
    headersSeen = 0;
    mock.queue = [];
    mock.defaults = {};
    mock.requests.length = 0;
  });

  const agent = (auth: { authToken?: string; apiKey?: string }) => new Anthropic({ baseURL: proxy.url, authToken: auth.authToken ?? null, apiKey: auth.apiKey ?? null, maxRetries: 0 });
  const raw = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest(`${proxy.url}${path}`, { method, headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('answers the unauthenticated HEAD probe at once, without calling the gateway', async () => {
    const r = await raw('HEAD', '/');
    assert.equal(r.status, 200);
    assert.equal(headersSeen, 0);
  });

  it('refuses anything without this window\'s secret, in the Anthropic envelope, with x-should-retry: false', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: `Bearer ${token}` }, { 'x-api-key': 'tgl-wrong' }];
    for (const headers of attempts) {
      const r = await raw('POST', '/v1/messages', headers, '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[]}');
      assert.equal(r.status, 401);
      assert.equal(r.headers['x-should-retry'], 'false');
      const body = JSON.parse(r.body);
      assert.equal(body.type, 'error');
      assert.equal(body.error.type, 'authentication_error');
      assert.doesNotMatch(body.error.message, /x-api-key/, 'the CLI would hide our text');
    }
    assert.equal(mock.requests.length, 0);
  });

  it('streams a real SDK request through with the bearer swapped in, and records usage', async () => {
    const stream = agent({ authToken: proxy.secret }).messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    const msg = await stream.finalMessage();
    assert.equal((msg.content[0] as { text: string }).text, 'Hello from the mock upstream.');
    assert.equal(mock.requests.length, 1, 'reached the upstream through the gateway');
    assert.equal(mock.requests[0]!.headers.authorization, undefined);
    assert.equal(done.length, 1);
    assert.deepEqual({ model: done[0]!.model, status: done[0]!.status, in: done[0]!.inputTokens, out: done[0]!.outputTokens, path: done[0]!.path }, { model: 'claude-sonnet-4-6', status: 200, in: 25, out: 11, path: '/v1/messages' });
  });

  it('accepts the secret as x-api-key (ANTHROPIC_API_KEY) and relays JSON replies', async () => {
    const msg = await agent({ apiKey: proxy.secret }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(msg.usage.output_tokens, 11);
    assert.equal(done[0]!.outputTokens, 11);
  });

  it('relays events as they arrive instead of buffering the reply', async () => {
    mock.queue.push({ hangAfterEvents: 2 });
    const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const first = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${proxy.url}/v1/messages?beta=true`, { method: 'POST', headers: { authorization: `Bearer ${proxy.secret}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'anthropic-version': '2023-06-01' } }, (res) => {
        let seen = '';
        res.on('data', (c) => {
          seen += c;
          // The upstream is still holding the stream open: anything here was relayed unbuffered.
          if (seen.includes('event: message_start')) {
            req.destroy();
            resolve(seen);
          }
        });
        res.on('end', () => reject(new Error('stream ended: the hanging upstream should have kept it open')));
      });
      req.on('error', () => {});
      req.end(body);
    });
    assert.match(first, /event: message_start/);
    assert.equal(mock.requests[0]!.url, '/v1/messages?beta=true', 'query forwarded');
  });

  it('says "sign in" when the window has no session', async () => {
    token = undefined;
    const r = await raw('POST', '/v1/messages', { authorization: `Bearer ${proxy.secret}` }, '{}');
    assert.equal(r.status, 401);
    assert.match(JSON.parse(r.body).error.message, /Tollgate: Sign In/);
    assert.equal(mock.requests.length, 0);
  });

  it('passes the gateway\'s own 401 through and reports a final rejection', async () => {
    token = 'not-a-valid-session-token';
    const r = await raw('POST', '/v1/messages', { authorization: `Bearer ${proxy.secret}` }, '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[]}');
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.type, 'authentication_error');
    // An invalid session token is final at the gateway (AUTH_INVALID carries noRetry): the
    // header reaches the agent and the window hears that its bearer is dead.
    assert.equal(r.headers['x-should-retry'], 'false');
    assert.deepEqual(rejected, ['not-a-valid-session-token']);
  });

  it('records the gateway\'s refusal (type and sentence) so the window can say why an agent was blocked', async () => {
    const r = await raw('POST', '/v1/messages', { authorization: `Bearer ${proxy.secret}` }, '{"model":"claude-not-offered-here","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}');
    assert.equal(r.status, 400);
    const agentSaw = JSON.parse(r.body).error;
    await waitFor('the proxied request to finish', () => done.length === 1);
    assert.deepEqual(done[0]!.error, { type: agentSaw.type, message: agentSaw.message });
    assert.match(done[0]!.error!.message, /^model claude-not-offered-here is not offered by this gateway; available: .*Ask your gateway administrator to add it\.$/);
    const block = blockFromReply(done[0]!.status, done[0]!.error, done[0]!.at);
    assert.equal(block?.kind, 'blocked');
    assert.equal(block?.reason, `M${agentSaw.message.slice(1)}`);
  });

  it('reports a gateway it cannot reach as a 502 refusal with a sentence', async () => {
    const down = await startLoopbackProxy({ target: async () => ({ baseUrl: 'http://127.0.0.1:9', token: 't' }), onRequestDone: (r) => done.push(r) });
    try {
      const r = await new Anthropic({ baseURL: down.url, authToken: down.secret, apiKey: null, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }).then(() => 200, (e: { status?: number }) => e.status);
      assert.equal(r, 502);
      await waitFor('the proxied request to finish', () => done.length === 1);
      assert.equal(done[0]!.status, 502);
      assert.equal(blockFromReply(502, done[0]!.error, done[0]!.at)?.reason, 'The Tollgate proxy could not reach the gateway at http://127.0.0.1:9.');
    } finally {
      await down.close();
    }
  });
});

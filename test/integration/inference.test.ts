/**
 * The inference path with provider `anthropic`, driven by the official SDK against the loopback
 * mock upstream, on real PostgreSQL and on PGlite.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { waitFor } from '../support/wait';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';

for (const kind of storeKinds()) {
  describe(`inference path (anthropic upstream, ${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    let token: string;

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        limits: { max_request_bytes: 64 * 1024 },
        timeouts: { upstream_ttfb_ms: 1500 },
      });
      gw = await startTestGateway({ config, db: tdb.db });
      token = gw.mint();
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
    });

    const client = (authToken = token) => new Anthropic({ baseURL: gw.url, authToken, apiKey: null, maxRetries: 0 });

    it('answers a non-streaming request through the SDK and forwards the right headers', async () => {
      const msg = await client().messages.create(
        { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219', 'x-app': 'cli', 'x-claude-code-session-id': 's-1' } },
      );
      assert.equal(msg.content[0]?.type, 'text');
      assert.equal((msg.content[0] as { text: string }).text, 'Hello from the mock upstream.');
      assert.equal(msg.usage.input_tokens, 25);
      const seen = mock.requests[0]!;
      assert.equal(seen.url, '/v1/messages');
      assert.equal(seen.headers['x-api-key'], 'sk-upstream-test', 'gateway credential added');
      assert.equal(seen.headers.authorization, undefined, 'client bearer stripped');
      assert.equal(seen.headers['anthropic-version'], '2023-06-01');
      assert.equal(seen.headers['anthropic-beta'], 'claude-code-20250219');
      assert.match(String(seen.headers['user-agent']), /tollgate\//);
      assert.ok(Object.keys(seen.headers).some((h) => h.startsWith('x-stainless-')), 'x-stainless-* forwarded');
      assert.equal(seen.headers['x-claude-code-session-id'], undefined, 'session header not forwarded');
    });

    it('relays the client body byte for byte, unknown fields included', async () => {
      const body = '{"model":"claude-sonnet-4-6","max_tokens":5,"messages":[{"role":"user","content":"x"}],"future_field":{"a":[1,2]},  "metadata":{"user_id":"u"}}';
      const res = await fetch(`${gw.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body,
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal(mock.requests[0]!.body.toString('utf8'), body);
      assert.equal(mock.requests[0]!.url, '/v1/messages?beta=true');
    });

    it('streams SSE byte-for-byte, event by event, and strips upstream rate-limit headers', async () => {
      mock.defaults = { eventDelayMs: 5 };
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      assert.equal(res.headers.get('anthropic-ratelimit-requests-limit'), null);
      assert.equal(res.headers.get('anthropic-organization-id'), 'org-mock', 'other upstream headers pass through');
      assert.equal(res.headers.get('request-id'), res.headers.get('x-request-id'));
      const received = Buffer.from(await res.arrayBuffer());
      const sent = mock.sentBodies[0]!;
      assert.equal(received.toString('utf8'), sent.toString('utf8'));
      const events = received.toString('utf8').split('\n\n').filter(Boolean).map((b) => b.split('\n')[0]);
      assert.deepEqual(events, [
        'event: message_start',
        'event: content_block_start',
        'event: ping',
        'event: content_block_delta',
        'event: content_block_delta',
        'event: content_block_delta',
        'event: content_block_stop',
        'event: message_delta',
        'event: message_stop',
      ]);
    });

    it('delivers the first event before the upstream finishes (no buffering)', async () => {
      // The upstream sends message_start, then holds the rest until the test has read it: a
      // gateway that buffered the stream would never deliver it (and this test times out).
      let release!: () => void;
      mock.defaults = { holdAfterEvents: 1, release: new Promise<void>((r) => (release = r)) };
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const reader = res.body!.getReader();
      let first;
      try {
        first = await reader.read(); // reached only if the gateway forwarded the event while the upstream holds
      } finally {
        release();
      }
      assert.match(Buffer.from(first.value!).toString('utf8'), /^event: message_start/);
      let rest = '';
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString('utf8');
      assert.match(rest, /event: message_stop/);
    });

    it('streams through the SDK iterator with the same content', async () => {
      const stream = client().messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
      const final = await stream.finalMessage();
      assert.equal((final.content[0] as { text: string }).text, 'Hello from the mock upstream.');
      assert.equal(final.usage.output_tokens, 11);
    });

    it('passes upstream error bodies and statuses through unchanged', async () => {
      for (const status of [400, 429, 500, 529]) {
        mock.queue = [{ status, errorMessage: `boom ${status}` }];
        const res = await fetch(`${gw.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [] }),
        });
        assert.equal(res.status, status);
        const body = (await res.json()) as { error: { message: string } };
        assert.equal(body.error.message, `boom ${status}`);
        if (status === 429) assert.equal(res.headers.get('retry-after'), '7');
      }
      mock.queue = [{ status: 400, errorMessage: 'prompt is too long: 300000 tokens > 200000 maximum' }];
      await assert.rejects(
        client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
        (err: Error & { status?: number }) => err.status === 400 && /prompt is too long/.test(err.message),
      );
    });

    it('answers 401 with the Anthropic envelope and x-should-retry: false for bad tokens', async () => {
      const noToken = await fetch(`${gw.url}/v1/messages`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(noToken.status, 401);
      const body = (await noToken.json()) as { type: string; error: { type: string } };
      assert.equal(body.type, 'error');
      assert.equal(body.error.type, 'authentication_error');
      const bad = await fetch(`${gw.url}/v1/messages`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer abc.def.ghi' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.headers.get('x-should-retry'), 'false');
      await assert.rejects(
        client('garbage').messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [] }),
        (err: Error & { status?: number }) => err.status === 401,
      );
      assert.equal(mock.requests.length, 0, 'nothing reached the upstream');
    });

    it('answers 400 for invalid JSON, a missing model and a non-string model', async () => {
      const post = (body: string) =>
        fetch(`${gw.url}/v1/messages`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
      const cases: [string, string][] = [
        ['{not json', 'invalid JSON'],
        ['{"max_tokens":1}', 'model is required'],
        ['{"model":42}', 'model must be a string'],
      ];
      for (const [body, message] of cases) {
        const res = await post(body);
        assert.equal(res.status, 400);
        const json = (await res.json()) as { error: { type: string; message: string } };
        assert.equal(json.error.type, 'invalid_request_error');
        assert.equal(json.error.message, message);
      }
    });

    it('refuses a chunked body without Content-Length (411) and an oversized one (413)', async () => {
      const status411 = await rawPost(gw.url, token, { 'transfer-encoding': 'chunked' }, '{"model":"x"}');
      assert.equal(status411.status, 411);
      assert.equal(status411.body, 'length required');
      const big = JSON.stringify({ model: 'claude-sonnet-4-6', pad: 'x'.repeat(70 * 1024) });
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', body: big, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'request_too_large');
      assert.equal(mock.requests.length, 0);
    });

    it('aborts the upstream request when the client disconnects mid-stream', async () => {
      mock.defaults = { hangAfterEvents: 3 };
      const before = mock.closedRequests;
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        signal: controller.signal,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [] }),
      });
      const reader = res.body!.getReader();
      await reader.read();
      controller.abort();
      await waitFor('the upstream connection closes after the client left', () => mock.closedRequests > before);
    });

    it('times out a silent upstream with upstream_ttfb_ms', async () => {
      mock.queue = [{ firstByteDelayMs: 3000 }];
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [] }),
      });
      assert.equal(res.status, 504);
      assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'api_error');
    });

    it('ends a stream cut by the upstream with an SSE error event, not silence', async () => {
      mock.queue = [{ cutAfterEvents: 4 }];
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [] }),
      });
      const text = await res.text();
      assert.match(text, /event: error\ndata: \{"type":"error"/);
    });

    it('serves count_tokens and health probes', async () => {
      const count = await client().messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(count.input_tokens, 25);
      assert.equal(mock.requests.at(-1)!.url, '/v1/messages/count_tokens');
      assert.equal(await (await fetch(`${gw.url}/healthz`)).text(), 'ok');
      const ready = await fetch(`${gw.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(ready.headers.get('x-content-type-options'), 'nosniff');
    });
  });
}

function rawPost(base: string, token: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL('/v1/messages', base);
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.write(body);
    req.end();
  });
}

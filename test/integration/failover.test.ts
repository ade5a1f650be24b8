/**
 * Ordered failover across Bedrock → Vertex → Anthropic with faults injected into the loopback
 * upstreams (5xx, 429, first-byte timeouts, refused connections, other 4xx), and the per-upstream
 * circuit breaker opening, skipping, probing and closing.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock';
import { createTestServiceAccount, signAssertion, startMockVertex, type MockVertex } from '../support/mock-vertex';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { SCRIPTED, bedrockConfig, rawPost, vertexConfig } from '../support/cloud-fixtures';
import { upstreamsListSchema } from '../../gateway-server/src/protocol/upstreams';
import { VertexUpstream } from '../../gateway-server/src/routing/vertex';
import { BedrockUpstream } from '../../gateway-server/src/routing/bedrock';
import type { ResolvedUpstream } from '../../gateway-server/src/config/load';

const ADMIN_READ_KEY = 'read-key-0123456789abcdef0123456789abcdef';

describe('failover and circuit breaking across cloud upstreams', function () {
  let tdb: TestDatabase;
  let mockA: MockAnthropic;
  let mockB: MockBedrock;
  let mockV: MockVertex;
  let gw: TestGateway;
  let vertexToken: string;
  const anthropic = (url: string) => ({ name: 'anthropic', provider: 'anthropic' as const, base_url: url, auth: { api_key: 'sk-upstream-test' } });

  before(async function () {
    this.timeout(60_000);
    tdb = await createTestDatabase('pglite');
    mockA = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    mockB = await startMockBedrock();
    const sa = createTestServiceAccount();
    mockV = await startMockVertex(sa);
    vertexToken = await mockV.fetchToken(signAssertion(sa.privateKeyPem, sa.clientEmail));
    gw = await startTestGateway({
      config: testConfig({
        upstreams: [bedrockConfig(mockB.url), vertexConfig(mockV.baseUrl, { access_token: vertexToken }), anthropic(mockA.url)],
        timeouts: { upstream_ttfb_ms: 400 },
        circuit_breaker: { failure_threshold: 1000, cooldown_seconds: 30 },
      }),
      db: tdb.db,
    });
  });
  after(async () => {
    await gw?.close();
    await mockA?.close();
    await mockB?.close();
    await mockV?.close();
    await tdb?.drop();
  });
  beforeEach(() => {
    for (const m of [mockA, mockB, mockV]) {
      m.queue = [];
      m.defaults = { reply: SCRIPTED };
      m.requests.length = 0;
    }
  });

  const client = (g: TestGateway) => new Anthropic({ baseURL: g.url, authToken: g.mint(), apiKey: null, maxRetries: 0 });
  const params = { model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user' as const, content: 'hi' }] };
  const counts = () => [mockB.requests.length, mockV.requests.length, mockA.requests.length];

  it('moves from a Bedrock 500 to Vertex, streaming, before any byte reaches the client', async () => {
    mockB.queue = [{ status: 500 }];
    const msg = await client(gw).messages.stream(params).finalMessage();
    assert.equal(msg.content.length, 3);
    assert.deepEqual(counts(), [1, 1, 0]);
  });

  it('moves past a 429 and a 503 to the third upstream', async () => {
    mockB.queue = [{ status: 429, errorType: 'ThrottlingException' }];
    mockV.queue = [{ status: 503 }];
    const msg = await client(gw).messages.create(params);
    assert.equal(msg.usage.output_tokens, SCRIPTED.outputTokens);
    assert.deepEqual(counts(), [1, 1, 1]);
  });

  it("moves on when Bedrock's stream opens with a throttling exception", async () => {
    mockB.queue = [{ exceptionAfterEvents: 0 }];
    const msg = await client(gw).messages.stream(params).finalMessage();
    assert.equal(msg.content.length, 3);
    assert.deepEqual(counts(), [1, 1, 0]);
  });

  it('moves on after a first-byte timeout', async () => {
    mockB.queue = [{ firstByteDelayMs: 1500 }];
    const msg = await client(gw).messages.create(params);
    assert.equal(msg.content.length, 3);
    assert.deepEqual(counts(), [1, 1, 0]);
  });

  it('returns other 4xx at once, without trying the next upstream', async () => {
    mockB.queue = [{ status: 400, errorMessage: 'messages: field required' }];
    const res = await rawPost(gw, '/v1/messages', params);
    assert.equal(res.status, 400);
    assert.deepEqual(counts(), [1, 0, 0]);
  });

  it('answers 502 naming the attempts when every upstream fails, and prefers a 429', async () => {
    mockB.queue = [{ status: 500 }];
    mockV.queue = [{ status: 502 }];
    mockA.queue = [{ status: 500 }];
    const all = await rawPost(gw, '/v1/messages', params);
    assert.equal(all.status, 502);
    assert.equal(JSON.parse(all.text).error.message, 'all upstreams failed (3 attempted)');
    mockB.queue = [{ status: 500 }];
    mockV.queue = [{ status: 429 }];
    mockA.queue = [{ status: 500 }];
    const limited = await rawPost(gw, '/v1/messages', params);
    assert.equal(limited.status, 429);
    assert.deepEqual(JSON.parse(limited.text).error, { type: 'rate_limit_error', message: 'upstream rate limit exceeded' });
  });

  it('moves past an upstream that refuses connections', async () => {
    const g = await startTestGateway({
      config: testConfig({ upstreams: [bedrockConfig('http://127.0.0.1:9', {}, 'dead'), vertexConfig(mockV.baseUrl, { access_token: vertexToken })] }),
      db: tdb.db,
    });
    try {
      const msg = await client(g).messages.create(params);
      assert.equal(msg.content.length, 3);
      assert.equal(mockV.requests.length, 1);
    } finally {
      await g.close();
    }
  });

  it('moves on when Vertex cannot get an access token, and logs why', async () => {
    const cfg = testConfig({ upstreams: [vertexConfig(mockV.baseUrl), bedrockConfig(mockB.url)] });
    const vcfg = cfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'vertex' }>;
    const logged: string[] = [];
    const vertex = new VertexUpstream(vcfg, {
      ttfbMs: 1000,
      tokenSource: async () => Promise.reject(new Error('invalid_grant: account disabled')),
    });
    const bedrock = new BedrockUpstream(cfg.upstreams[1] as Extract<ResolvedUpstream, { provider: 'bedrock' }>, { ttfbMs: 1000 });
    const g = await startTestGateway({ config: cfg, db: tdb.db, upstreams: [vertex, bedrock] });
    try {
      // After boot: the routing feature points adapters at the app log.
      vertex.setLog((d, m) => logged.push(`${m}: ${String(d.err)}`));
      const msg = await client(g).messages.create(params);
      assert.equal(msg.content.length, 3);
      assert.deepEqual(counts(), [1, 0, 0]);
      assert.deepEqual(logged, ['vertex access token unavailable: invalid_grant: account disabled']);
    } finally {
      await g.close();
    }
  });

  it('opens the breaker after N consecutive failures, skips the upstream, probes after the cool-down and closes', async () => {
    let offset = 0;
    const g = await startTestGateway({
      config: testConfig({
        upstreams: [bedrockConfig(mockB.url), vertexConfig(mockV.baseUrl, { access_token: vertexToken })],
        circuit_breaker: { failure_threshold: 2, cooldown_seconds: 30 },
        admin: { read_keys: [{ id: 'ops', key: ADMIN_READ_KEY }] },
      }),
      db: tdb.db,
      clock: { now: () => Date.now() + offset },
    });
    try {
      const token = g.mint();
      const c = new Anthropic({ baseURL: g.url, authToken: token, apiKey: null, maxRetries: 0 });
      mockB.defaults = { status: 500 };
      await c.messages.create(params);
      await c.messages.create(params);
      assert.equal(mockB.requests.length, 2);
      // Open: Bedrock is skipped without a network call; Vertex answers.
      await c.messages.create(params);
      await c.messages.create(params);
      assert.equal(mockB.requests.length, 2);
      assert.equal(mockV.requests.length, 4);
      // Operators see it on the admin API.
      const view = await fetch(`${g.url}/v1/organizations/upstreams`, { headers: { 'x-api-key': ADMIN_READ_KEY } });
      assert.equal(view.status, 200);
      const list = upstreamsListSchema.parse(await view.json());
      assert.deepEqual(
        list.data.map((u) => [u.name, u.provider, u.circuit.state, u.circuit.consecutive_failures]),
        [['bedrock', 'bedrock', 'open', 2], ['vertex', 'vertex', 'closed', 0]],
      );
      assert.ok(list.data[0]!.circuit.opened_at);
      assert.equal((await fetch(`${g.url}/v1/organizations/upstreams`)).status, 401);
      // Cool-down over: one probe; it fails, so the breaker opens again.
      offset += 31_000;
      await c.messages.create(params);
      assert.equal(mockB.requests.length, 3);
      await c.messages.create(params);
      assert.equal(mockB.requests.length, 3);
      // Next cool-down: the probe succeeds and Bedrock serves again.
      offset += 31_000;
      mockB.defaults = { reply: SCRIPTED };
      await c.messages.create(params);
      await c.messages.create(params);
      assert.equal(mockB.requests.length, 5);
      assert.equal(mockV.requests.length, 6);
    } finally {
      await g.close();
    }
  });

  it('does not count client errors (400) or a model missing upstream (404) as breaker failures', async () => {
    const g = await startTestGateway({
      config: testConfig({
        upstreams: [bedrockConfig(mockB.url), vertexConfig(mockV.baseUrl, { access_token: vertexToken })],
        circuit_breaker: { failure_threshold: 1, cooldown_seconds: 30 },
      }),
      db: tdb.db,
    });
    try {
      mockB.queue = [{ status: 404, errorType: 'ResourceNotFoundException' }, { status: 400 }];
      assert.equal((await rawPost(g, '/v1/messages', params)).status, 200);
      assert.equal((await rawPost(g, '/v1/messages', params)).status, 400);
      assert.equal((await rawPost(g, '/v1/messages', params)).status, 200);
      assert.equal(mockB.requests.length, 3, 'Bedrock was never skipped');
    } finally {
      await g.close();
    }
  });
});

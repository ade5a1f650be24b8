/**
 * Bedrock and Vertex upstreams end to end: the official SDK through the gateway to loopback
 * Bedrock (SigV4 verified, AWS event-stream frames) and Vertex (OAuth bearer from its own token
 * endpoint) gets the same message as from the Anthropic path; request translation, count_tokens
 * and error sanitisation are checked on what the mocks received.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { startMockBedrock, TEST_AWS, type MockBedrock } from '../support/mock-bedrock';
import { createTestServiceAccount, signAssertion, startMockVertex, type MockVertex, type TestServiceAccount } from '../support/mock-vertex';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { VertexUpstream } from '../../gateway-server/src/routing/vertex';
import { BedrockUpstream } from '../../gateway-server/src/routing/bedrock';
import type { ResolvedUpstream } from '../../gateway-server/src/config/load';
import { SCRIPTED, bedrockConfig, vertexConfig, rawPost, type Captured } from '../support/cloud-fixtures';

describe('cloud upstreams (Bedrock, Vertex) through the gateway', function () {
  let tdb: TestDatabase;
  let mockA: MockAnthropic;
  let mockB: MockBedrock;
  let mockV: MockVertex;
  let sa: TestServiceAccount;
  let gwA: TestGateway;
  let gwB: TestGateway;
  let gwV: TestGateway;
  const logs: Captured[] = [];

  before(async function () {
    this.timeout(60_000);
    tdb = await createTestDatabase('pglite');
    mockA = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    mockB = await startMockBedrock();
    sa = createTestServiceAccount();
    mockV = await startMockVertex(sa);
    const timeouts = { upstream_ttfb_ms: 2000 };
    gwA = await startTestGateway({
      config: testConfig({ upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mockA.url, auth: { api_key: 'sk-upstream-test' } }], timeouts }),
      db: tdb.db,
    });
    gwB = await startTestGateway({ config: testConfig({ upstreams: [bedrockConfig(mockB.url)], timeouts }), db: tdb.db });
    let token: Promise<string> | undefined;
    const vcfg = testConfig({ upstreams: [vertexConfig(mockV.baseUrl)], timeouts });
    const vertex = new VertexUpstream(vcfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'vertex' }>, {
      ttfbMs: 2000,
      tokenSource: () => (token ??= mockV.fetchToken(signAssertion(sa.privateKeyPem, sa.clientEmail))),
    });
    gwV = await startTestGateway({ config: vcfg, db: tdb.db, upstreams: [vertex] });
    // Capture the operator log of the cloud adapters (provider text must land there, not with clients).
    for (const gw of [gwB, gwV]) {
      for (const u of gw.app.gateway.upstreams) (u as unknown as { setLog(l: (d: Record<string, unknown>, m: string) => void): void }).setLog((d, m) => logs.push({ ...d, msg: m }));
    }
  });
  after(async () => {
    for (const gw of [gwA, gwB, gwV]) await gw?.close();
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
    logs.length = 0;
  });

  const client = (gw: TestGateway) => new Anthropic({ baseURL: gw.url, authToken: gw.mint(), apiKey: null, maxRetries: 0 });
  const params = {
    model: 'claude-sonnet-4-6',
    max_tokens: 1024,
    messages: [{ role: 'user' as const, content: 'What is the weather in Paris?' }],
    thinking: { type: 'enabled' as const, budget_tokens: 512 },
  };
  const essence = (m: Anthropic.Message) => ({ content: m.content, usage: m.usage, stop_reason: m.stop_reason, role: m.role, model: m.model });

  it('gives the SDK identical messages (text, tool use, thinking, usage) from all three paths, non-streaming', async () => {
    const [a, b, v] = await Promise.all([gwA, gwB, gwV].map((gw) => client(gw).messages.create(params)));
    assert.deepEqual(a!.content.map((c) => c.type), ['thinking', 'text', 'tool_use']);
    assert.equal(a!.usage.input_tokens, SCRIPTED.inputTokens);
    assert.deepEqual(essence(b!), essence(a!));
    assert.deepEqual(essence(v!), essence(a!));
  });

  it('gives the SDK identical messages from all three paths, streaming', async () => {
    const run = (gw: TestGateway) => client(gw).messages.stream(params).finalMessage();
    const [a, b, v] = await Promise.all([gwA, gwB, gwV].map(run));
    assert.deepEqual(a!.content.map((c) => c.type), ['thinking', 'text', 'tool_use']);
    assert.deepEqual((a!.content[2] as Anthropic.ToolUseBlock).input, SCRIPTED.toolUse!.input);
    assert.deepEqual(essence(b!), essence(a!));
    assert.deepEqual(essence(v!), essence(a!));
  });

  it('re-emits the Bedrock event stream as the same SSE bytes the Anthropic API sends', async () => {
    const body = { ...params, stream: true };
    const a = await rawPost(gwA, '/v1/messages', body);
    const b = await rawPost(gwB, '/v1/messages', body);
    assert.equal(b.status, 200);
    assert.match(b.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = (t: string) => t.split('\n\n').filter(Boolean);
    const ea = events(a.text);
    const eb = events(b.text);
    assert.equal(eb.length, ea.length);
    // Identical event by event; message_stop additionally carries Bedrock's invocation metrics.
    for (let i = 0; i < ea.length - 1; i++) assert.equal(eb[i], ea[i]);
    assert.match(eb.at(-1)!, /^event: message_stop\ndata: \{"type":"message_stop","amazon-bedrock-invocationMetrics"/);
  });

  it('prices Bedrock and Vertex usage exactly as the Anthropic path (spend metering)', async () => {
    const costs: Record<string, number[]> = {};
    const gateways: TestGateway[] = [];
    // Spend metering is on when an admin API is configured.
    const admin = { write_keys: [{ id: 'ops', key: 'write-key-0123456789abcdef0123456789abcdef' }] };
    const vcfg = testConfig({ upstreams: [vertexConfig(mockV.baseUrl)], admin });
    let token: Promise<string> | undefined;
    const vertex = new VertexUpstream(vcfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'vertex' }>, {
      ttfbMs: 2000,
      tokenSource: () => (token ??= mockV.fetchToken(signAssertion(sa.privateKeyPem, sa.clientEmail))),
    });
    const setups: [string, Parameters<typeof startTestGateway>[0]][] = [
      ['anthropic', { config: testConfig({ upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mockA.url, auth: { api_key: 'sk-upstream-test' } }], admin }), db: tdb.db }],
      ['bedrock', { config: testConfig({ upstreams: [bedrockConfig(mockB.url)], admin }), db: tdb.db }],
      ['vertex', { config: vcfg, db: tdb.db, upstreams: [vertex] }],
    ];
    try {
      for (const [name, opts] of setups) {
        costs[name] = [];
        const g = await startTestGateway({ ...opts, observers: [{ onInference: (e) => void costs[name]!.push(e.costMicros ?? -1) }] });
        gateways.push(g);
        for (const model of ['claude-sonnet-4-6', 'claude-haiku-4-5']) {
          await client(g).messages.create({ ...params, model });
          await client(g).messages.stream({ ...params, model }).finalMessage();
        }
      }
      assert.ok(costs.anthropic!.every((c) => c > 0), `priced: ${costs.anthropic}`);
      assert.notEqual(costs.anthropic![0], costs.anthropic![2], 'sonnet and haiku differ');
      assert.deepEqual(costs.bedrock, costs.anthropic);
      assert.deepEqual(costs.vertex, costs.anthropic);
    } finally {
      for (const g of gateways) await g.close();
    }
  });

  it('translates the Bedrock request: path, signed headers, body', async () => {
    const res = await rawPost(gwB, '/v1/messages?beta=true', {
      ...params,
      stream: true,
      tags: { team: 'x' },
      metadata: { user_id: 'u-1' },
      output_config: { effort: 'high' },
    }, { 'anthropic-beta': 'claude-code-20250219, interleaved-thinking-2025-05-14,request-tags-2026-08-21', 'x-app': 'cli', 'x-stainless-lang': 'js' });
    assert.equal(res.status, 200);
    const r = mockB.requests[0]!;
    assert.equal(r.url, '/model/us.anthropic.claude-sonnet-4-6/invoke-with-response-stream');
    assert.ok(r.signatureOk, 'SigV4 verified by the mock');
    for (const h of ['accept', 'anthropic-version', 'content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token', 'x-stainless-lang']) {
      assert.ok(r.signedHeaders.includes(h), `${h} signed`);
    }
    assert.match(String(r.headers.host), /^127\.0\.0\.1:\d+$/);
    assert.equal(r.headers.accept, 'application/json');
    assert.equal(r.headers['anthropic-beta'], undefined, 'beta header moved into the body');
    assert.equal(r.headers['x-app'], undefined);
    const j = r.json!;
    assert.equal(j.model, undefined);
    assert.equal(j.stream, undefined);
    assert.equal(j.tags, undefined);
    assert.equal(j.anthropic_version, 'bedrock-2023-05-31');
    assert.deepEqual(j.anthropic_beta, ['claude-code-20250219', 'interleaved-thinking-2025-05-14']);
    assert.deepEqual(j.metadata, { user_id: 'u-1' });
    assert.deepEqual(j.thinking, params.thinking);
    assert.deepEqual(j.output_config, { effort: 'high' });
  });

  it('signs model IDs with a raw colon, and sends a models: entry mapped to an ARN percent-encoded', async () => {
    await client(gwB).messages.create({ ...params, model: 'claude-haiku-4-5-20251001' });
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123';
    const g = await startTestGateway({
      config: testConfig({ upstreams: [bedrockConfig(mockB.url)], models: [{ id: 'team-sonnet', upstream_model: { bedrock: arn } }] }),
      db: tdb.db,
    });
    try {
      await client(g).messages.create({ ...params, model: 'team-sonnet' });
    } finally {
      await g.close();
    }
    const [haiku, profile] = mockB.requests;
    assert.equal(haiku!.url, '/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke');
    assert.ok(haiku!.signatureOk);
    assert.equal(profile!.url, `/model/${encodeURIComponent(arn)}/invoke`);
    assert.equal(profile!.modelId, arn);
    assert.ok(profile!.signatureOk);
  });

  it('translates the Vertex request: URL with @-versioned model, body, beta header, OAuth bearer', async () => {
    const res = await rawPost(gwV, '/v1/messages', { ...params, model: 'claude-haiku-4-5', stream: true, tags: { a: 'b' } }, {
      'anthropic-beta': 'interleaved-thinking-2025-05-14,request-tags-2026-08-21',
    });
    assert.equal(res.status, 200);
    const r = mockV.requests[0]!;
    assert.equal(r.url, '/v1/projects/tollgate-test/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict');
    assert.ok(r.authorized, 'bearer issued by the mock token endpoint');
    assert.equal(r.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14');
    assert.equal(r.json!.model, undefined);
    assert.equal(r.json!.stream, true);
    assert.equal(r.json!.tags, undefined);
    assert.equal(r.json!.anthropic_version, 'vertex-2023-10-16');
    assert.ok(mockV.tokenGrants >= 1);
  });

  it('counts tokens through Bedrock CountTokens and Vertex count-tokens', async () => {
    mockB.defaults = { countTokens: 42 };
    mockV.defaults = { countTokens: 43 };
    const req = { model: 'claude-sonnet-4-5', messages: [{ role: 'user' as const, content: 'count me' }] };
    assert.equal((await client(gwB).messages.countTokens(req)).input_tokens, 42);
    assert.equal((await client(gwV).messages.countTokens(req)).input_tokens, 43);
    const b = mockB.requests[0]!;
    assert.equal(b.url, '/model/anthropic.claude-sonnet-4-5-20250929-v1:0/count-tokens');
    assert.ok(b.signatureOk);
    assert.equal(b.countBody!.anthropic_version, 'bedrock-2023-05-31');
    assert.equal(b.countBody!.max_tokens, 1);
    assert.equal(b.countBody!.model, undefined);
    assert.deepEqual(b.countBody!.messages, req.messages);
    const v = mockV.requests[0]!;
    assert.equal(v.url, '/v1/projects/tollgate-test/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict');
    assert.equal(v.json!.model, 'claude-sonnet-4-5@20250929');
  });

  it('answers 501 not_supported (no retry) when Bedrock cannot count, and stops asking for a while', async () => {
    mockB.defaults = { countTokens: 'not-aws' };
    const req = { model: 'claude-opus-4-7', messages: [{ role: 'user', content: 'x' }] };
    for (let i = 0; i < 2; i++) {
      const res = await rawPost(gwB, '/v1/messages/count_tokens', req);
      assert.equal(res.status, 501);
      assert.equal(res.headers.get('x-should-retry'), 'false');
      assert.equal(JSON.parse(res.text).error.type, 'not_supported');
    }
    assert.equal(mockB.requests.length, 1, 'the second count was not sent to Bedrock');
  });

  it('sanitises cloud errors but relays the messages clients act on', async () => {
    const cases: [MockBedrock | MockVertex, TestGateway, Record<string, unknown>, number, string, string][] = [
      [mockB, gwB, { status: 400, errorMessage: 'Input is too long.', errorType: 'ValidationException' }, 400, 'invalid_request_error', 'Input is too long.'],
      [
        mockB,
        gwB,
        { status: 400, rawErrorBody: JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } }) },
        400,
        'invalid_request_error',
        'prompt is too long: 210000 tokens > 200000 maximum',
      ],
      [mockB, gwB, { status: 429, errorType: 'ThrottlingException' }, 429, 'rate_limit_error', 'upstream rate limit exceeded'],
      [mockB, gwB, { status: 403, errorType: 'AccessDeniedException', errorMessage: 'User: arn:aws:iam::123456789012:user/x is not authorized' }, 403, 'permission_error', 'upstream denied the request'],
      [mockV, gwV, { status: 400, errorMessage: 'Request payload size exceeds the limit: 31457280 bytes.' }, 400, 'invalid_request_error', 'Input is too long.'],
      [mockV, gwV, { status: 403, errorMessage: "Permission 'aiplatform.endpoints.predict' denied on project 987654321098" }, 403, 'permission_error', 'upstream denied the request'],
      [mockV, gwV, { status: 500 }, 500, 'api_error', 'upstream error'],
    ];
    for (const [mock, gw, behaviour, status, type, message] of cases) {
      logs.length = 0;
      mock.queue = [behaviour];
      const res = await rawPost(gw, '/v1/messages', { ...params, stream: true });
      const body = JSON.parse(res.text);
      assert.equal(res.status, status, message);
      assert.deepEqual(body.error, { type, message });
      assert.equal(body.type, 'error');
      assert.ok(body.request_id);
      assert.doesNotMatch(res.text, /123456789012|987654321098/);
      assert.equal(res.headers.get('x-amzn-requestid'), null);
      assert.ok(logs.some((l) => typeof l.providerBody === 'string'), 'provider text in the operator log');
    }
  });

  it('rejects a bad SigV4 signature as Bedrock does, and tells the client only "upstream denied the request"', async () => {
    const bad = await startTestGateway({
      config: testConfig({ upstreams: [bedrockConfig(mockB.url, { aws_secret_access_key: 'wrong-secret' })] }),
      db: tdb.db,
    });
    const seen: Captured[] = [];
    for (const u of bad.app.gateway.upstreams) (u as unknown as { setLog(l: (d: Record<string, unknown>, m: string) => void): void }).setLog((d, m) => seen.push({ ...d, msg: m }));
    try {
      const res = await rawPost(bad, '/v1/messages', params);
      assert.equal(res.status, 403);
      assert.deepEqual(JSON.parse(res.text).error, { type: 'permission_error', message: 'upstream denied the request' });
      assert.equal(res.headers.get('x-should-retry'), 'false', 'a client retry cannot fix the gateway credential');
      assert.equal(mockB.requests[0]!.signatureOk, false);
      assert.match(String(seen[0]!.providerBody), /signature we calculated does not match/);
      assert.match(String(seen[0]!.amznErrorType), /^InvalidSignatureException/);
    } finally {
      await bad.close();
    }
  });

  it('applies a configured guardrail and refuses amazon-bedrock-* body fields under it', async () => {
    const g = await startTestGateway({
      config: testConfig({ upstreams: [{ ...bedrockConfig(mockB.url), guardrail: { id: 'gr-123', version: 'DRAFT' } }] }),
      db: tdb.db,
    });
    try {
      await client(g).messages.create(params);
      const r = mockB.requests[0]!;
      assert.equal(r.headers['x-amzn-bedrock-guardrailidentifier'], 'gr-123');
      assert.equal(r.headers['x-amzn-bedrock-guardrailversion'], 'DRAFT');
      assert.ok(r.signatureOk && r.signedHeaders.includes('x-amzn-bedrock-guardrailidentifier'));
      const res = await rawPost(g, '/v1/messages', { ...params, 'amazon-bedrock-guardrailConfig': { streamProcessingMode: 'async' } });
      assert.equal(res.status, 400);
      assert.equal(mockB.requests.length, 1);
    } finally {
      await g.close();
    }
  });

  it('accepts a Bedrock API key as a bearer instead of SigV4', async () => {
    const keyed = await startMockBedrock({ bearerToken: 'bedrock-api-key-test' });
    const gw = await startTestGateway({
      config: testConfig({ upstreams: [{ name: 'bedrock', provider: 'bedrock', region: 'us-east-1', base_url: keyed.url, auth: { aws_bearer_token: 'bedrock-api-key-test' } }] }),
      db: tdb.db,
    });
    try {
      keyed.defaults = { reply: SCRIPTED };
      const msg = await client(gw).messages.create(params);
      assert.equal(msg.content.length, 3);
      assert.equal(keyed.requests[0]!.headers.authorization, 'Bearer bedrock-api-key-test');
      assert.equal(keyed.requests[0]!.headers['x-amz-date'], undefined);
    } finally {
      await gw.close();
      await keyed.close();
    }
  });

  it('signs with the AWS default credential chain when no keys are configured', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: TEST_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_AWS.secretAccessKey,
      AWS_SESSION_TOKEN: TEST_AWS.sessionToken,
    });
    const gw = await startTestGateway({
      config: testConfig({ upstreams: [{ name: 'bedrock', provider: 'bedrock', region: TEST_AWS.region, base_url: mockB.url }] }),
      db: tdb.db,
    });
    try {
      const msg = await client(gw).messages.create(params);
      assert.equal(msg.content.length, 3);
      assert.ok(mockB.requests[0]!.signatureOk);
      assert.equal(mockB.requests[0]!.headers['x-amz-security-token'], TEST_AWS.sessionToken);
    } finally {
      await gw.close();
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('assumes the configured role per user (session_name: email) and signs with the role credentials', async () => {
    const cfg = testConfig({
      upstreams: [
        {
          ...bedrockConfig(mockB.url, { aws_access_key_id: 'AKIABASEKEY000000001', aws_secret_access_key: 'base-secret' }),
          auth: { aws_access_key_id: 'AKIABASEKEY000000001', aws_secret_access_key: 'base-secret' },
          assume_role: { role_arn: 'arn:aws:iam::123456789012:role/tollgate-bedrock', external_id: 'ext-1', session_name: 'email' },
        },
      ],
    });
    const u = cfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'bedrock' }>;
    const g = await startTestGateway({ config: cfg, db: tdb.db, upstreams: [new BedrockUpstream(u, { ttfbMs: 2000, stsEndpoint: mockB.url })] });
    mockB.stsCalls.length = 0;
    try {
      const as = (email: string) => new Anthropic({ baseURL: g.url, authToken: g.mint({ email }), apiKey: null, maxRetries: 0 });
      await as('alice@example.com').messages.create(params);
      await as('alice@example.com').messages.create(params);
      await as('bob@example.com').messages.create(params);
      assert.deepEqual(mockB.stsCalls.map((c) => c.params.RoleSessionName), ['alice@example.com', 'bob@example.com'], 'one session per user, cached');
      assert.equal(mockB.stsCalls[0]!.params.RoleArn, 'arn:aws:iam::123456789012:role/tollgate-bedrock');
      assert.equal(mockB.stsCalls[0]!.params.ExternalId, 'ext-1');
      assert.equal(mockB.stsCalls[0]!.signedBy, 'AKIABASEKEY000000001');
      assert.ok(mockB.requests.every((r) => r.signatureOk), 'Bedrock calls signed with the role credentials');
      // STS refusing a new session: the upstream is unusable for that user (never the base keys).
      mockB.stsFail = true;
      const before = mockB.requests.length;
      const res = await rawPost({ url: g.url, mint: () => g.mint({ email: 'carol@example.com' }) }, '/v1/messages', params);
      assert.equal(res.status, 502);
      assert.equal(mockB.requests.length, before);
    } finally {
      mockB.stsFail = false;
      await g.close();
    }
  });

  it('keeps a silent Bedrock stream alive with synthesised pings the SDK ignores', async () => {
    const cfg = testConfig({ upstreams: [bedrockConfig(mockB.url)] });
    const u = cfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'bedrock' }>;
    const g = await startTestGateway({ config: cfg, db: tdb.db, upstreams: [new BedrockUpstream(u, { ttfbMs: 2000, pingIntervalMs: 25 })] });
    try {
      mockB.queue = [{ pauseBeforeEvent: 5, pauseMs: 300, reply: SCRIPTED }, { pauseBeforeEvent: 5, pauseMs: 300, reply: SCRIPTED }];
      const raw = await rawPost(g, '/v1/messages', { ...params, stream: true });
      const pings = raw.text.split('\n\n').filter((e) => e === 'event: ping\ndata: {"type":"ping"}').length;
      assert.ok(pings >= 2, `scripted ping plus synthesised ones (saw ${pings})`);
      const msg = await client(g).messages.stream(params).finalMessage();
      assert.equal(msg.content.length, 3);
    } finally {
      await g.close();
    }
  });

  it('ends a Vertex stream cut mid-way with an SSE error event, and the SDK reports it', async () => {
    mockV.queue = [{ cutAfterEvents: 4 }];
    await assert.rejects(client(gwV).messages.stream(params).finalMessage(), (err: Error) => /upstream connection lost mid-stream/.test(err.message));
  });

  it('ends a Bedrock stream with an SSE error event on a mid-stream exception or cut', async () => {
    mockB.queue = [{ exceptionAfterEvents: 4 }, { cutAfterEvents: 4 }];
    const ex = await rawPost(gwB, '/v1/messages', { ...params, stream: true });
    assert.equal(ex.status, 200);
    assert.match(ex.text, /event: error\ndata: \{"type":"error","error":\{"type":"rate_limit_error","message":"upstream rate limit exceeded"\}\}\n\n$/);
    assert.doesNotMatch(ex.text, /123456789012/);
    assert.ok(logs.some((l) => l.exceptionType === 'throttlingException'));
    const cut = await rawPost(gwB, '/v1/messages', { ...params, stream: true });
    assert.match(cut.text, /event: error\ndata: \{"type":"error","error":\{"type":"api_error"/);
    assert.doesNotMatch(cut.text, /message_stop/);
  });
});

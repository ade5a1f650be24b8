/**
 * Telemetry: the OTLP relay forwards Claude Code-style payloads (written by the OpenTelemetry
 * SDK's own serialisers, protobuf and JSON) byte for byte to opted-in destinations with their
 * headers; the relay pauses a failing destination and resumes it, never pauses on "payload
 * refused", and drops (counting) beyond its in-flight bound; the gateway's own metrics reach the
 * collector with GenAI semantic-convention names and our attributes.
 */
import assert from 'node:assert/strict';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor, InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { ProtobufMetricsSerializer, JsonMetricsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { metricPoints, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { OtlpRelay } from '../../gateway-server/src/telemetry/relay';
import type { SpendGate } from '../../gateway-server/src/inference/hooks';

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** What Claude Code's exporter sends: its metric names, resource and identity attributes. */
async function claudeCodeMetrics(): Promise<{ protobuf: Buffer; json: Buffer }> {
  const reader = new ManualReader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'claude-code', 'service.version': '2.1.332', 'user.id': 'user-1', 'user.email': 'dev@example.com' }),
    readers: [reader],
  });
  const meter = provider.getMeter('com.anthropic.claude_code', '2.1.332');
  const attrs = { 'user.id': 'user-1', 'session.id': 'session-abc', 'organization.id': 'org', model: 'claude-sonnet-4-6' };
  meter.createCounter('claude_code.token.usage', { unit: 'tokens' }).add(1234, { ...attrs, type: 'input' });
  meter.createCounter('claude_code.cost.usage', { unit: 'USD' }).add(0.0123, attrs);
  meter.createCounter('claude_code.session.count').add(1, attrs);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return {
    protobuf: Buffer.from(ProtobufMetricsSerializer.serializeRequest(resourceMetrics as never)!),
    json: Buffer.from(JsonMetricsSerializer.serializeRequest(resourceMetrics as never)!),
  };
}

function claudeCodeLogs(): Buffer {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'claude-code' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
  provider.getLogger('com.anthropic.claude_code.events').emit({
    body: 'claude_code.api_request',
    attributes: { 'event.name': 'api_request', model: 'claude-sonnet-4-6', cost_usd: 0.01, duration_ms: 1200, 'user.id': 'user-1' },
  });
  return Buffer.from(ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords() as never)!);
}

const kind = storeKinds()[0]!;

describe(`telemetry relay and gateway metrics (${kind})`, function () {
  this.timeout(60_000);
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  let a: OtlpReceiver;
  let b: OtlpReceiver;
  let gw: TestGateway;
  let token: string;
  // Every outbound call the gateway makes, so a test can wait until the relay's deliveries have
  // all been answered (the relay starts them before the 200) instead of sleeping.
  const outbound = new Set<Promise<unknown>>();
  const tracked: typeof fetch = (input, init) => {
    const p = fetch(input, init);
    const settled = p.then(
      (res) => res.clone().arrayBuffer().catch(() => undefined),
      () => undefined,
    );
    outbound.add(settled);
    void settled.finally(() => outbound.delete(settled));
    return p;
  };
  const outboundSettled = async () => {
    while (outbound.size) await Promise.allSettled([...outbound]);
  };

  before(async () => {
    mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    tdb = await createTestDatabase(kind);
    a = await startOtlpReceiver();
    b = await startOtlpReceiver();
    const config = testConfig({
      upstreams: [{ name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      telemetry: {
        forward_to: [
          { url: a.url, headers: { authorization: 'Bearer collector-a', 'x-tenant': 'eng' }, logs: true },
          { url: `${b.url}/`, headers: { 'x-collector': 'b' }, gateway_metrics: false },
        ],
        resource_attributes: { 'deployment.environment.name': 'test', 'service.namespace': 'claude' },
      },
    });
    const spend: SpendGate = { async admit() { return { headers: {}, settle: async () => 2_500 }; } };
    gw = await startTestGateway({ config, db: tdb.db, spend, fetch: tracked });
    token = gw.mint({ sub: 'user-7', email: 'seven@example.com', groups: ['platform', 'engineering'] });
  });
  after(async () => {
    await gw?.close();
    await a?.close();
    await b?.close();
    await tdb?.drop();
    await mock?.close();
  });

  const post = (signal: string, body: Buffer, contentType: string, auth = `Bearer ${token}`) =>
    fetch(`${gw.url}/v1/${signal}`, { method: 'POST', headers: { authorization: auth, 'content-type': contentType }, body: new Uint8Array(body) });

  it('relays a Claude Code protobuf and JSON metrics payload byte for byte to every metrics destination, with its headers', async () => {
    const { protobuf, json } = await claudeCodeMetrics();
    const r1 = await post('metrics', protobuf, 'application/x-protobuf');
    assert.equal(r1.status, 200);
    assert.equal((await r1.arrayBuffer()).byteLength, 0, 'empty body');
    const r2 = await post('metrics', json, 'application/json');
    assert.equal(r2.status, 200);
    await a.waitFor(2);
    await b.waitFor(2);
    for (const rx of [a, b]) {
      const pb = rx.received.find((r) => r.headers['content-type'] === 'application/x-protobuf')!;
      const js = rx.received.find((r) => r.headers['content-type'] === 'application/json')!;
      assert.ok(pb.raw.equals(protobuf), 'protobuf bytes unchanged');
      assert.ok(js.raw.equals(json), 'JSON bytes unchanged');
      assert.equal(pb.path, '/v1/metrics');
      assert.equal(pb.headers['x-claude-code-session-id'], undefined);
      // The decoders agree with the SDK's serialisers.
      for (const r of [pb, js]) {
        const points = metricPoints([r]);
        const usage = points.find((p) => p.name === 'claude_code.token.usage')!;
        assert.equal(usage.value, 1234);
        assert.equal(usage.attributes['session.id'], 'session-abc');
        assert.equal(usage.resource['service.name'], 'claude-code');
        assert.equal(points.find((p) => p.name === 'claude_code.cost.usage')!.value, 0.0123);
      }
    }
    assert.equal(a.received[0]!.headers.authorization, 'Bearer collector-a', "destination's own credential");
    assert.equal(a.received[0]!.headers['x-tenant'], 'eng');
    assert.equal(b.received[0]!.headers.authorization, undefined, "the client's bearer is never forwarded");
    assert.equal(b.received[0]!.headers['x-collector'], 'b');
  });

  it('sends logs only to destinations that opted in, and accepts signals nobody wants', async () => {
    const logs = claudeCodeLogs();
    const before = { a: a.received.length, b: b.received.length };
    assert.equal((await post('logs', logs, 'application/x-protobuf')).status, 200);
    assert.equal((await post('traces', Buffer.from('{"resourceSpans":[]}'), 'application/json')).status, 200);
    await a.waitFor(before.a + 1);
    const got = a.received[a.received.length - 1]!;
    assert.equal(got.path, '/v1/logs');
    assert.ok(got.raw.equals(logs));
    const rec = (got.decoded as any).resourceLogs[0].scopeLogs[0].logRecords[0];
    assert.equal(rec.body.stringValue, 'claude_code.api_request');
    // Every delivery the relay started for these two posts has been answered: b would have it by now.
    await outboundSettled();
    assert.equal(b.received.length, before.b, 'b did not opt into logs');
    assert.ok(!a.received.some((r) => r.path === '/v1/traces') && !b.received.some((r) => r.path === '/v1/traces'));
  });

  it('requires the bearer token', async () => {
    const res = await post('metrics', Buffer.from('x'), 'application/x-protobuf', '');
    assert.equal(res.status, 401);
    const bad = await post('metrics', Buffer.from('x'), 'application/x-protobuf', 'Bearer nope');
    assert.equal(bad.status, 401);
  });

  it("exports the gateway's own GenAI metrics with identity and routing attributes, never content", async () => {
    for (const stream of [false, true]) {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, stream, messages: [{ role: 'user', content: 'top secret prompt' }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const before = b.received.length;
    // Closing flushes the meter provider: the final export carries everything recorded.
    await gw.close();
    const own = a.received.filter((r) => r.headers['user-agent']?.includes('OTel') || metricPoints([r]).some((p) => p.name.startsWith('gen_ai.')));
    const points = metricPoints(own);
    const usage = points.filter((p) => p.name === 'gen_ai.client.token.usage');
    const input = usage.find((p) => p.attributes['gen_ai.token.type'] === 'input')!;
    const output = usage.find((p) => p.attributes['gen_ai.token.type'] === 'output')!;
    assert.equal(input.count, 2);
    assert.equal(input.value, 50);
    assert.equal(output.value, 22);
    for (const p of [input, output]) {
      assert.equal(p.attributes['gen_ai.request.model'], 'claude-sonnet-4-6');
      assert.equal(p.attributes['gen_ai.provider.name'], 'anthropic');
      assert.equal(p.attributes['gen_ai.system'], 'anthropic');
      assert.equal(p.attributes['user.id'], 'user-7');
      assert.equal(p.attributes['tollgate.groups'], 'engineering,platform');
      assert.equal(p.attributes['tollgate.upstream'], 'primary');
      assert.equal(p.attributes['tollgate.outcome'], 'ok');
      assert.equal(p.resource['deployment.environment.name'], 'test');
      assert.equal(p.resource['service.name'], 'tollgate-gateway');
    }
    const duration = points.find((p) => p.name === 'gen_ai.client.operation.duration')!;
    assert.equal(duration.count, 2);
    assert.equal(duration.unit, 's');
    const cost = points.find((p) => p.name === 'tollgate.cost')!;
    assert.equal(cost.value, 0.005, 'two requests at 2,500 micro-dollars');
    assert.equal(points.find((p) => p.name === 'tollgate.requests')!.value, 2);
    assert.ok(!own.some((r) => r.raw.toString('utf8').includes('top secret')), 'no prompt content');
    assert.equal(b.received.length, before, 'b opted out of gateway metrics');
  });
});

describe('OTLP relay delivery rules', function () {
  this.timeout(30_000);
  let rx: OtlpReceiver;
  let clock = 0;
  const warnings: Record<string, unknown>[] = [];
  const make = (extra: Partial<ConstructorParameters<typeof OtlpRelay>[1]> = {}) =>
    new OtlpRelay([{ url: rx.url, headers: {}, metrics: true, logs: false, traces: false }], {
      fetch,
      now: () => clock,
      log: { warn: (o) => warnings.push(o) },
      ...extra,
    });
  const payload = Buffer.from('payload');

  beforeEach(async () => {
    rx = await startOtlpReceiver();
    clock = 1_000_000;
    warnings.length = 0;
  });
  afterEach(async () => rx.close());

  it('pauses a destination after 5 consecutive failures for 30 s, then resumes it', async () => {
    const relay = make();
    rx.defaults = { status: 503 };
    for (let i = 0; i < 5; i++) {
      relay.relay('metrics', payload, 'application/x-protobuf', undefined);
      await relay.settle();
    }
    assert.equal(rx.received.length, 5);
    assert.ok(warnings.some((w) => w.evt === 'telemetry.paused'));
    relay.relay('metrics', payload, 'application/x-protobuf', undefined);
    await relay.settle();
    assert.equal(rx.received.length, 5, 'paused: nothing sent');
    assert.equal(relay.stats().destinations[0]!.skippedWhilePaused, 1);

    clock += 29_999;
    relay.relay('metrics', payload, 'application/x-protobuf', undefined);
    await relay.settle();
    assert.equal(rx.received.length, 5, 'still paused just before 30 s');

    clock += 1;
    rx.defaults = { status: 200 };
    relay.relay('metrics', payload, 'application/x-protobuf', undefined);
    await relay.settle();
    assert.equal(rx.received.length, 6, 'tried again after the pause');
    const s = relay.stats().destinations[0]!;
    assert.equal(s.consecutiveFailures, 0);
    assert.equal(s.delivered, 1);
  });

  it('a failure after the pause pauses again at once', async () => {
    const relay = make();
    rx.defaults = { status: 500 };
    for (let i = 0; i < 5; i++) {
      relay.relay('metrics', payload, 'application/x-protobuf', undefined);
      await relay.settle();
    }
    clock += 30_000;
    relay.relay('metrics', payload, 'application/x-protobuf', undefined);
    await relay.settle();
    relay.relay('metrics', payload, 'application/x-protobuf', undefined);
    await relay.settle();
    assert.equal(rx.received.length, 6);
  });

  it('never pauses on "payload refused" statuses', async () => {
    const relay = make();
    for (const status of [400, 413, 415, 422, 431, 400, 413, 415, 422, 431]) {
      rx.queue.push({ status });
      relay.relay('metrics', payload, 'application/x-protobuf', undefined);
      await relay.settle();
    }
    assert.equal(rx.received.length, 10);
    const s = relay.stats().destinations[0]!;
    assert.equal(s.refused, 10);
    assert.equal(s.pausedUntil, 0);
  });

  it('counts timeouts as failures and drops beyond the in-flight bound, counting and logging it', async () => {
    const relay = make({ maxInFlight: 4, timeoutMs: 300 });
    rx.defaults = { hang: true };
    for (let i = 0; i < 10; i++) relay.relay('metrics', payload, 'application/x-protobuf', undefined);
    assert.equal(relay.stats().inFlight, 4);
    assert.equal(relay.stats().overflow, 6);
    assert.equal(warnings.filter((w) => w.evt === 'telemetry.overflow').length, 1, 'one log line, not one per drop');
    await relay.settle();
    assert.equal(relay.stats().destinations[0]!.failed, 4);
    assert.equal(relay.stats().inFlight, 0);
  });
});

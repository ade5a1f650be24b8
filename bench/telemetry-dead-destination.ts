/**
 * What a dead OTLP destination costs the request path.
 *
 *   node --import tsx bench/telemetry-dead-destination.ts [--seconds 8] [--concurrency 16] [--rounds 3]
 *
 * Runs the same inference load (loopback mock upstream, in-memory PGlite, audit on) against two
 * gateways: one without telemetry, one whose only telemetry destination is a black hole (accepts
 * TCP, never answers), with the gateway's own metrics exported every second and clients' OTLP
 * payloads relayed alongside the inference traffic (one per 4 requests). Rounds alternate so load
 * drift on a shared machine hits both alike; the figure is the ratio of medians (dead / none).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { startMockAnthropic } from '../test/support/mock-anthropic';
import { startTestGateway, testConfig, type TestGateway } from '../test/support/gateway';
import { openPglite } from '../gateway-server/src/store/pglite';
import { migrate } from '../gateway-server/src/store/migrate';
import { GatewayMetrics } from '../gateway-server/src/telemetry/gateway-metrics';
import { OtlpRelay } from '../gateway-server/src/telemetry/relay';
import type { InferenceEvent } from '../gateway-server/src/inference/hooks';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' }, rounds: { type: 'string', default: '5' } },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
process.env.OTEL_METRIC_EXPORT_INTERVAL = '1000';

async function blackHole(): Promise<{ url: string; sockets: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let total = 0;
  const server: Server = createServer((s) => {
    total++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get sockets() {
      return total;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  /** Process CPU (gateway, mock and load generator together) per inference request. */
  cpuMsPerRequest: number;
  relayed: number;
  errors: number;
}

async function load(gw: TestGateway, relay: boolean, seconds: number): Promise<Result> {
  const token = gw.mint();
  const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  const otlp = new Uint8Array(Buffer.alloc(2048, 7));
  const latencies: number[] = [];
  let errors = 0;
  let relayed = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== 200) errors++;
    }
  };
  // Clients' own telemetry, as Claude Code sends it alongside inference: a separate sender so the
  // inference workers do identical work in both modes.
  const telemetry = async () => {
    while (relay && performance.now() < end) {
      const r = await fetch(`${gw.url}/v1/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf' },
        body: otlp,
      });
      await r.arrayBuffer();
      if (r.status !== 200) errors++;
      relayed++;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const c0 = process.cpuUsage();
  await Promise.all([...Array.from({ length: CONCURRENCY }, worker), telemetry()]);
  const cpu = process.cpuUsage(c0);
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)]!,
    p99: latencies[Math.floor(latencies.length * 0.99)]!,
    cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / latencies.length,
    relayed,
    errors,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The telemetry work done on the request path itself, timed in isolation against the dead
 * destination: recording one request's metrics, and handing one payload to the relay.
 */
async function pathCosts(deadUrl: string): Promise<{ on_inference_us: number; deferred_record_us: number; relay_enqueue_us: number }> {
  const metrics = new GatewayMetrics({ destinations: [{ url: deadUrl, headers: {} }], resourceAttributes: {}, serviceVersion: 'bench', providerOf: () => 'anthropic', exportIntervalMs: 1000 });
  const event: InferenceEvent = {
    requestId: 'r', at: new Date(), operation: 'messages', model: 'claude-sonnet-4-6', upstream: 'anthropic', upstreamModel: 'claude-sonnet-4-6',
    status: 200, outcome: 'ok', latencyMs: 812, stream: true, costMicros: 240,
    principal: { sub: 'user-1', email: 'dev@example.com', groups: ['engineering', 'platform'], exp: 0, tokenHash: 'h' },
    usage: { input_tokens: 25, output_tokens: 11, cache_read_input_tokens: 100, cache_creation_input_tokens: 0, cache_creation_1h_input_tokens: 0, web_search_requests: 0 },
  };
  const N = 50_000;
  for (let i = 0; i < 5_000; i++) metrics.onInference(event);
  metrics.drain();
  const events = Array.from({ length: 5_000 }, (_, i) => ({ ...event, principal: { ...event.principal!, sub: `user-${i % 50}` } }));
  let onPath = 0;
  let deferred = 0;
  for (let round = 0; round < N / events.length; round++) {
    let t0 = performance.now();
    for (const e of events) metrics.onInference(e);
    onPath += performance.now() - t0;
    t0 = performance.now();
    metrics.drain();
    deferred += performance.now() - t0;
  }
  const on_inference_us = (onPath * 1000) / N;
  const deferred_record_us = (deferred * 1000) / N;
  await metrics.shutdown().catch(() => {});
  // maxInFlight 0: every enqueue takes the overflow branch, so no sockets pile up while timing.
  const relay = new OtlpRelay([{ url: deadUrl, headers: {}, metrics: true, logs: false, traces: false }], { fetch, now: Date.now, log: { warn() {} }, maxInFlight: 0 });
  const payload = Buffer.alloc(2048, 7);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) relay.relay('metrics', payload, 'application/x-protobuf', undefined);
  const relay_enqueue_us = ((performance.now() - t0) * 1000) / N;
  return {
    on_inference_us: Number(on_inference_us.toFixed(3)),
    deferred_record_us: Number(deferred_record_us.toFixed(2)),
    relay_enqueue_us: Number(relay_enqueue_us.toFixed(3)),
  };
}

async function main() {
  const mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
  const hole = await blackHole();
  const upstreams = [{ name: 'anthropic', provider: 'anthropic' as const, base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }];
  const results: Record<'none' | 'dead', Result[]> = { none: [], dead: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (['none', 'dead'] as const) : (['dead', 'none'] as const)) {
      const db = await openPglite();
      await migrate(db);
      const config = testConfig({
        upstreams,
        ...(mode === 'dead' ? { telemetry: { forward_to: [{ url: hole.url, metrics: true, logs: true, traces: true }] } } : {}),
      });
      const gw = await startTestGateway({ config, db });
      await load(gw, mode === 'dead', 1); // warm-up: JIT, connection pools
      const r = await load(gw, mode === 'dead', SECONDS);
      results[mode].push(r);
      process.stderr.write(
        `round ${round + 1} ${mode.padEnd(4)}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
          `cpu ${r.cpuMsPerRequest.toFixed(2)} ms/req, relayed ${r.relayed}, errors ${r.errors}\n`,
      );
      await Promise.race([gw.close(), new Promise((r) => setTimeout(r, 15_000))]);
      await db.close();
    }
  }
  // Ratios per round (the two modes of a round ran back to back), then the median across rounds.
  const paired = (f: (r: Result) => number) => median(results.dead.map((d, i) => f(d) / f(results.none[i]!)));
  const out = {
    benchmark: 'telemetry-dead-destination',
    seconds: SECONDS,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    none: results.none,
    dead: results.dead,
    throughput_ratio: Number(paired((r) => r.rps).toFixed(3)),
    p50_ratio: Number(paired((r) => r.p50).toFixed(3)),
    p99_ratio: Number(paired((r) => r.p99).toFixed(3)),
    cpu_per_request_ratio: Number(paired((r) => r.cpuMsPerRequest).toFixed(3)),
    black_hole_connections: hole.sockets,
    request_path_costs: await pathCosts(hole.url),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await hole.close();
  await mock.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  },
);

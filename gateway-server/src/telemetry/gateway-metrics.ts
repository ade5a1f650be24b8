/**
 * The gateway's own metrics, following the OpenTelemetry GenAI semantic conventions, exported
 * over OTLP/HTTP to every telemetry destination with `gateway_metrics` (default true).
 *
 * Recording is synchronous and in memory (an SDK instrument add/record); the export runs on the
 * SDK's timer (OTEL_METRIC_EXPORT_INTERVAL, default 60 s) with its own timeout, so a slow or dead
 * collector never touches the request path. Attributes carry identity and routing, never content.
 */
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { InferenceEvent } from '../inference/hooks';
import type { GatewayEvent, GaugeSource } from '../feature';
import { signalUrl } from './relay';

// Bucket boundaries recommended by the GenAI semantic conventions.
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** Upstream provider kinds to `gen_ai.provider.name` values of the semantic conventions. */
const PROVIDER_NAMES: Record<string, string> = {
  anthropic: 'anthropic',
  bedrock: 'aws.bedrock',
  vertex: 'gcp.vertex_ai',
  foundry: 'azure.ai.inference',
  openai: 'openai',
  azure_openai: 'azure.ai.openai',
};

export interface MetricsDestination {
  url: string;
  headers: Readonly<Record<string, string>>;
}

export interface GatewayMetricsOptions {
  destinations: readonly MetricsDestination[];
  resourceAttributes: Readonly<Record<string, string>>;
  serviceVersion: string;
  /** Upstream name to provider kind (anthropic, bedrock, vertex, …). */
  providerOf: (upstream: string) => string | undefined;
  exportIntervalMs?: number;
}

export class GatewayMetrics {
  private readonly provider: MeterProvider;
  private readonly tokenUsage: Histogram;
  private readonly duration: Histogram;
  private readonly cost: Counter;
  private readonly requests: Counter;
  private readonly events: Counter;
  private readonly meter: ReturnType<MeterProvider['getMeter']>;

  constructor(private readonly opts: GatewayMetricsOptions) {
    const interval = opts.exportIntervalMs ?? (Number(process.env.OTEL_METRIC_EXPORT_INTERVAL) || 60_000);
    this.provider = new MeterProvider({
      resource: resourceFromAttributes({
        'service.name': 'tollgate-gateway',
        'service.version': opts.serviceVersion,
        ...opts.resourceAttributes,
      }),
      readers: opts.destinations.map(
        (d) =>
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: signalUrl(d.url, 'metrics'), headers: { ...d.headers }, timeoutMillis: 10_000 }),
            exportIntervalMillis: interval,
            exportTimeoutMillis: Math.min(10_000, interval),
          }),
      ),
    });
    const meter = (this.meter = this.provider.getMeter('tollgate-gateway', opts.serviceVersion));
    this.tokenUsage = meter.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      description: 'Tokens used per inference request, by gen_ai.token.type',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
    this.duration = meter.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'Duration of inference requests through the gateway',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.cost = meter.createCounter('tollgate.cost', { unit: 'USD', description: 'Estimated cost of inference requests (list price × pricing.multiplier)' });
    this.requests = meter.createCounter('tollgate.requests', { unit: '{request}', description: 'Inference requests by outcome' });
    this.events = meter.createCounter('tollgate.events', { unit: '{event}', description: 'Gateway events (sign-ins, refreshes, denials, admin changes) by name and outcome' });
  }

  /** Export another feature's gauge; read only when the exporter collects, never per request. */
  observe(g: GaugeSource): void {
    this.meter.createObservableGauge(g.name, { unit: g.unit, description: g.description }).addCallback((result) => {
      for (const { value, attributes } of g.read()) result.observe(value, attributes);
    });
  }

  private pending: InferenceEvent[] = [];
  private drainScheduled = false;
  /** Events dropped because recording fell this far behind (never expected; bounds memory). */
  dropped = 0;

  /**
   * Queue the event and return: the SDK's attribute hashing (tens of microseconds per request)
   * runs after the current I/O turn, off the request's critical path.
   */
  onInference(e: InferenceEvent): void {
    if (this.pending.length >= 10_000) {
      this.dropped++;
      return;
    }
    this.pending.push(e);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Record everything queued now (the timer does this; flush and tests call it directly). */
  drain(): void {
    this.drainScheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const e of batch) this.record(e);
  }

  private record(e: InferenceEvent): void {
    const provider = e.upstream ? this.opts.providerOf(e.upstream) : undefined;
    const attrs: Attributes = {
      'gen_ai.operation.name': e.operation === 'count_tokens' ? 'count_tokens' : 'chat',
      'gen_ai.system': e.operation === 'responses' ? 'openai' : 'anthropic',
      'tollgate.outcome': e.outcome,
    };
    if (e.model) attrs['gen_ai.request.model'] = e.model;
    if (e.upstreamModel) attrs['gen_ai.response.model'] = e.upstreamModel;
    if (provider) attrs['gen_ai.provider.name'] = PROVIDER_NAMES[provider] ?? provider;
    if (e.upstream) attrs['tollgate.upstream'] = e.upstream;
    if (e.principal) {
      attrs['user.id'] = e.principal.sub;
      attrs['tollgate.groups'] = [...e.principal.groups].sort().join(',');
    }
    const policy = (e as { policy?: string }).policy;
    if (policy) attrs['tollgate.policy'] = policy;
    if (e.outcome !== 'ok') attrs['error.type'] = e.reason ?? e.outcome;

    this.requests.add(1, attrs);
    this.duration.record(e.latencyMs / 1000, attrs);
    const u = e.usage;
    if (u) {
      const tokens: [string, number][] = [
        ['input', u.input_tokens],
        ['output', u.output_tokens],
        ['cache_read', u.cache_read_input_tokens],
        ['cache_creation', u.cache_creation_input_tokens],
      ];
      for (const [type, n] of tokens) if (n > 0) this.tokenUsage.record(n, { ...attrs, 'gen_ai.token.type': type });
    }
    if (e.costMicros) this.cost.add(e.costMicros / 1_000_000, attrs);
  }

  onEvent(e: GatewayEvent): void {
    this.events.add(1, { 'tollgate.event': e.name, 'tollgate.outcome': e.outcome, ...(e.reason ? { 'tollgate.reason': e.reason } : {}) });
  }

  /** Export what has been recorded now (tests, shutdown). */
  flush(): Promise<void> {
    this.drain();
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    this.drain();
    return this.provider.shutdown();
  }
}

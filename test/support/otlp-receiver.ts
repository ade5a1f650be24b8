/**
 * A loopback OTLP/HTTP collector for tests: records every request (path, headers, exact bytes),
 * decodes protobuf (protobufjs over the OTLP schema) and JSON bodies to one camelCase shape, and
 * can answer with failure statuses, answer slowly, or never answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-server';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { OTLP_PROTO } from './otlp-proto';

const root = protobuf.parse(OTLP_PROTO).root;
const REQUEST_TYPES = {
  metrics: root.lookupType('opentelemetry.proto.ExportMetricsServiceRequest'),
  logs: root.lookupType('opentelemetry.proto.ExportLogsServiceRequest'),
  traces: root.lookupType('opentelemetry.proto.ExportTraceServiceRequest'),
};
export type OtlpSignal = keyof typeof REQUEST_TYPES;

export interface ReceivedExport {
  signal: OtlpSignal;
  path: string;
  headers: IncomingMessage['headers'];
  /** The bytes exactly as they arrived (before any gunzip). */
  raw: Buffer;
  /** Decoded request, camelCase as OTLP/JSON (int64 as strings, bytes as base64). */
  decoded?: Record<string, unknown>;
  status: number;
}

export interface ReceiverBehaviour {
  status?: number;
  delayMs?: number;
  /** Accept the request and never answer (until close). */
  hang?: boolean;
}

export interface OtlpReceiver {
  url: string;
  received: ReceivedExport[];
  /** Behaviour for the next requests, consumed in order; then `defaults`. */
  queue: ReceiverBehaviour[];
  defaults: ReceiverBehaviour;
  /** Resolves once `n` requests have been received in total. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function decodeOtlp(signal: OtlpSignal, body: Buffer, contentType: string | undefined, contentEncoding?: string): Record<string, unknown> {
  const bytes = contentEncoding === 'gzip' ? gunzipSync(body) : body;
  if (/json/i.test(contentType ?? '')) return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  const type = REQUEST_TYPES[signal];
  return type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: false, oneofs: false }) as Record<string, unknown>;
}

type KV = { key: string; value: Record<string, unknown> };

export function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return v;
}

export function attributes(list: KV[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

export interface MetricPoint {
  name: string;
  unit?: string;
  kind: 'sum' | 'gauge' | 'histogram';
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  /** Sum/gauge value, or the histogram's sum. */
  value: number;
  /** Histogram count. */
  count?: number;
}

/** Every data point of every decoded metrics export, flattened. */
export function metricPoints(exports: ReceivedExport[]): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const e of exports) {
    if (e.signal !== 'metrics' || !e.decoded) continue;
    for (const rm of (e.decoded.resourceMetrics as Record<string, any>[]) ?? []) {
      const resource = attributes(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : undefined;
          if (!kind) continue;
          for (const dp of m[kind].dataPoints ?? []) {
            out.push({
              name: m.name,
              unit: m.unit,
              kind,
              resource,
              attributes: attributes(dp.attributes),
              value: kind === 'histogram' ? Number(dp.sum ?? 0) : Number(dp.asDouble ?? dp.asInt ?? 0),
              count: kind === 'histogram' ? Number(dp.count) : undefined,
            });
          }
        }
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedExport[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  const hanging = new Set<ServerResponse>();
  const state = { queue: [] as ReceiverBehaviour[], defaults: {} as ReceiverBehaviour };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const path = (req.url ?? '').split('?')[0]!;
      const signal = path.replace(/^.*\/v1\//, '') as OtlpSignal;
      const b = state.queue.shift() ?? state.defaults;
      const status = b.status ?? 200;
      let decoded: Record<string, unknown> | undefined;
      try {
        if (signal in REQUEST_TYPES) decoded = decodeOtlp(signal, raw, req.headers['content-type'], req.headers['content-encoding'] as string | undefined);
      } catch {
        /* kept as raw bytes */
      }
      received.push({ signal, path, headers: req.headers, raw, decoded, status });
      for (const w of [...waiters]) if (received.length >= w.n) w.resolve();
      if (b.hang) {
        hanging.add(res);
        return;
      }
      const answer = () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status >= 200 && status < 300 ? '{}' : JSON.stringify({ code: 3, message: 'simulated failure' }));
      };
      if (b.delayMs) setTimeout(answer, b.delayMs);
      else answer();
    });
  });
  const loop = await listenLoopback(server);

  return {
    url: loop.url,
    received,
    get queue() {
      return state.queue;
    },
    set queue(q) {
      state.queue = q;
    },
    get defaults() {
      return state.defaults;
    },
    set defaults(d) {
      state.defaults = d;
    },
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`OTLP receiver got ${received.length} of ${n} expected requests`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
    async close() {
      hanging.clear();
      await loop.close();
    },
  };
}

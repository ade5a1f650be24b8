/**
 * Closed-loop load generator on undici: `concurrency` workers, each sending its next request as
 * soon as the previous one has been read to the end. Bounded by time and by count. Latency is
 * request start to last body byte; for streams, time to first byte is to the first body chunk
 * (the message_start event), which is what a developer waits for.
 */
import { Pool } from 'undici';
import { performance } from 'node:perf_hooks';

export interface LoadSpec {
  url: string;
  token?: string;
  stream: boolean;
  /** The client API: Anthropic Messages (Claude Code) or OpenAI Responses (Codex). Default messages. */
  api?: 'messages' | 'responses';
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  maxRequests: number;
  bodyBytes: number;
  /**
   * Spread the workers' first requests evenly over this many ms. Against an upstream that takes
   * a fixed time, workers started together stay in lockstep: every reply comes back in the same
   * millisecond and the replies queue behind each other, which real, independent clients do not
   * do. Set to the upstream delay for delayed cells.
   */
  staggerMs?: number;
  /** Called when warm-up ends and measurement starts (CPU/RSS snapshots). */
  onMeasureStart?: () => void;
}

export interface LoadResult {
  requests: number;
  /** Requests answered including warm-up (for per-request counters read outside the window). */
  allRequests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  ttfbP50?: number;
  ttfbP99?: number;
}

export function requestBody(stream: boolean, bodyBytes: number, api: 'messages' | 'responses' = 'messages'): Buffer {
  if (api === 'responses') {
    // As Codex sends it: no max_output_tokens, store false, the prompt in `input`.
    const r = { model: 'gpt-5-codex', stream, store: false, input: [{ role: 'user', content: '' }] };
    r.input[0]!.content = 'x'.repeat(Math.max(0, bodyBytes - Buffer.byteLength(JSON.stringify(r))));
    return Buffer.from(JSON.stringify(r));
  }
  const base = { model: 'claude-sonnet-4-6', max_tokens: 256, stream, messages: [{ role: 'user', content: '' }] };
  const padding = Math.max(0, bodyBytes - Buffer.byteLength(JSON.stringify(base)));
  base.messages[0]!.content = 'x'.repeat(padding);
  return Buffer.from(JSON.stringify(base));
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const u = new URL(spec.url);
  const pool = new Pool(u.origin, { connections: spec.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const responses = spec.api === 'responses';
  const body = requestBody(spec.stream, spec.bodyBytes, spec.api);
  const headers: Record<string, string> = responses
    ? { 'content-type': 'application/json', accept: 'text/event-stream', originator: 'codex_exec', 'user-agent': 'codex_exec/0.171.0 (Linux; x86_64)', 'content-length': String(body.length) }
    : { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'user-agent': 'claude-cli/2.1.332 (external, cli)', 'content-length': String(body.length) };
  if (spec.token) headers.authorization = `Bearer ${spec.token}`;
  const path = `${u.pathname.replace(/\/+$/, '')}/v1/${responses ? 'responses' : 'messages'}`;

  const latencies: number[] = [];
  const ttfbs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let sent = 0;
  let all = 0;
  const t0 = performance.now();
  const warmEnd = t0 + spec.warmupMs;
  let measureStart = warmEnd;
  let stopAt = warmEnd + spec.durationMs;

  const one = async (): Promise<void> => {
    const start = performance.now();
    let ttfb = -1;
    try {
      const res = await pool.request({ method: 'POST', path, headers, body });
      for await (const _chunk of res.body) {
        if (ttfb < 0) ttfb = performance.now() - start;
      }
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    } catch (err) {
      if (measuring) {
        errors++;
        firstError ??= (err as Error).message;
      }
      return;
    }
    all++;
    if (!measuring) return;
    latencies.push(performance.now() - start);
    if (spec.stream) ttfbs.push(ttfb);
  };

  const worker = async (index: number): Promise<void> => {
    if (spec.staggerMs) await new Promise((r) => setTimeout(r, (index * spec.staggerMs!) / spec.concurrency));
    for (;;) {
      const now = performance.now();
      if (!measuring && now >= warmEnd) {
        measuring = true;
        measureStart = now;
        stopAt = now + spec.durationMs;
        spec.onMeasureStart?.();
      }
      if (now >= stopAt || (measuring && sent >= spec.maxRequests)) return;
      if (measuring) sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => worker(i)));
  const seconds = (performance.now() - measureStart) / 1000;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  const ttfbSorted = Float64Array.from(ttfbs).sort();
  return {
    requests: latencies.length,
    allRequests: all,
    errors,
    firstError,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    ...(spec.stream ? { ttfbP50: percentile(ttfbSorted, 50), ttfbP99: percentile(ttfbSorted, 99) } : {}),
  };
}

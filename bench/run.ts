/**
 * npm run bench: the gateway's cost, measured against the upstream alone in the same run.
 *
 *   npm run bench                      default matrix, five targets (~9 min)
 *   npm run bench -- --quick           same matrix, short cells (~4 min)
 *   npm run bench -- --profile         also write a V8 CPU profile of each gateway and summarise it
 *   npm run bench -- --pin             the gateway on a core of its own, everything else on the others (bench/pinning.ts)
 *   npm run bench -- --configs console --console-rows 1000000
 *                                      only the console lane (bench/console.ts), at the scale of its target:
 *                                      every console page p95 ≤ 300 ms and ≤ 3 requests per view, rollup
 *                                      maintenance ≤ 5 % gateway CPU per inference request (console on vs off)
 *   npm run bench -- --gateway-url https://gw.internal:8443 --token <bearer> [--gateway-pid N] --mock-port 9999
 *                                      the same matrix against another gateway (e.g. the official one),
 *                                      configured beforehand with upstream base_url http://127.0.0.1:9999
 *   options: --configs null-proxy,bare,governed,official-bare,official,console (default; also governed-request, governed-pgbouncer, governed-sinks)  --concurrency 1,32,256
 *            --console-rows 200000 (default; 50000 with --quick) --console-users 10000 --console-views 20 --console-requests 1500
 *            --console-instructions N (also count instructions per inference request under callgrind, console on and off, over N requests: load-independent)
 *            --modes json,sse,responses-json,responses-sse (responses-*: OpenAI Responses as Codex sends them, governed targets only, c ≤ 32, no delayed cells;
 *                                      each runs interleaved, round by round, with the Messages cell of its stream kind and concurrency)
 *            --body-bytes 2048 --rounds N --duration-ms N (per round) --warmup-ms N (per round) --out file.json
 *            --upstream-delay-ms 20,200 (default)  --delay-concurrency 32   (0 drops the delayed cells)
 *
 * Processes: this one (load generator and orchestration), the mock upstream, and the bundled
 * gateway (dist/server/tollgate-gateway.js) as operators run it, on real PostgreSQL. Gateway CPU
 * and RSS come from /proc/<pid>, so nothing in the gateway is instrumented for the benchmark.
 * Each cell alternates direct-to-mock and through-gateway rounds and reports the difference of
 * the medians, so the baseline is always measured in the same run, under the same load.
 *
 * Two kinds of cells. Saturation cells (the mock answers at once) measure CPU per request and
 * throughput: closed-loop load against a ~0.1 ms upstream keeps the gateway 100 % busy, so their
 * latency is queueing (Little's law: concurrency / req/s), not what a request costs. Delayed
 * cells (the mock holds each reply `--upstream-delay-ms`, streams before their first event, at
 * `--delay-concurrency`, workers staggered so replies do not return in lockstep) measure the
 * latency the gateway adds when the upstream takes time, as a real model does: the figures to
 * hold against the added-latency targets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { SessionTokens } from '../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../test/support/db';
import { openPostgres } from '../gateway-server/src/store/postgres';
import { migrate } from '../gateway-server/src/store/migrate';
import { startGatewayProcess, type GatewayProcess } from '../test/support/process';
import { runLoad, type LoadResult } from './load';
import { cpuMs, rssMb, rssSampler } from './proc-stats';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile-summary';
import { startOfficialGateway } from './official-gateway';
import { pinCores, type Pinning } from './pinning';
import { startPgBouncer, type PgBouncer } from '../test/support/pgbouncer';
import { consoleTable, runConsoleLane, type ConsoleLaneResult } from './console';

const JWT_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const ADMIN_KEY = 'bench-admin-write-key-0123456789abcdef';
const BENCH_USER = { sub: 'bench-user', email: 'bench@example.com', groups: ['engineering'] };
const AVAILABLE_MODELS = ['claude-sonnet-4-6', 'claude-haiku-4-5'];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    'gateway-url': { type: 'string' },
    token: { type: 'string' },
    'gateway-pid': { type: 'string' },
    'mock-port': { type: 'string' },
    configs: { type: 'string', default: 'null-proxy,bare,governed,official-bare,official,console' },
    'console-rows': { type: 'string' },
    'console-users': { type: 'string', default: '10000' },
    'console-views': { type: 'string', default: '20' },
    'console-requests': { type: 'string', default: '1500' },
    'console-instructions': { type: 'string', default: '0' },
    'upstream-delay-ms': { type: 'string', default: '20,200' },
    'delay-concurrency': { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '1,32,256' },
    modes: { type: 'string', default: 'json,sse,responses-json,responses-sse' },
    'body-bytes': { type: 'string', default: '2048' },
    'duration-ms': { type: 'string' },
    rounds: { type: 'string' },
    'warmup-ms': { type: 'string' },
    out: { type: 'string' },
  },
});

const rounds = Number(args.rounds ?? (args.quick ? 2 : 3));
const roundMs = Number(args['duration-ms'] ?? (args.quick ? 500 : 1200));
const roundWarmupMs = Number(args['warmup-ms'] ?? (args.quick ? 100 : 200));
const warmupMs = args.quick ? 500 : 1500;
const concurrencies = args.concurrency!.split(',').map(Number);
type Mode = 'json' | 'sse' | 'responses-json' | 'responses-sse';
const modes = args.modes!.split(',').map((m) => m.trim()) as Mode[];
const isResponses = (m: Mode) => m.startsWith('responses');
const apiOf = (m: Mode): 'messages' | 'responses' => (isResponses(m) ? 'responses' : 'messages');
/** Responses cells run where an OpenAI upstream and a codex policy are configured, at c=1 and c=32 (the Messages cells they are compared with). */
const modesFor = (kind: string) => modes.filter((m) => !isResponses(m) || kind.startsWith('governed') || kind === 'external');
const bodyBytes = Number(args['body-bytes']);
const upstreamDelays = args['upstream-delay-ms']!
  .split(',')
  .map(Number)
  .filter((d) => d > 0);
const delayConcurrency = Number(args['delay-concurrency']);

// Children die with us, whatever ends the run.
const children = new Set<ChildProcess>();
/** Set while --pin has moved processes (PostgreSQL's among them): put back on any exit. */
let activePinning: Pinning | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    activePinning?.restore();
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}

interface Target {
  name: string;
  url: string;
  token?: string;
  pid?: number;
  notes: string[];
  idleRssMb?: number;
  /** PostgreSQL transactions and rows per gateway request over the whole target (warm-up included). */
  pgPerRequest?: { xacts: number; rowsWritten: number; rowsRead: number; requests: number };
  /** PostgreSQL counters of the target's own database, when it has one (the official gateway's). */
  pgStats?: () => Promise<PgCounters | undefined>;
  stop?: () => Promise<void>;
  /** After the statistics are read: drop what the target owned. */
  release?: () => Promise<void>;
}

interface Cell {
  target: string;
  mode: Mode;
  concurrency: number;
  /** How long the mock held each reply (before the first event for streams); 0 = saturation cell. */
  upstreamDelayMs: number;
  direct: LoadResult & { upstreamCpuMsPerReq: number };
  gateway: LoadResult & { cpuMsPerReq: number; peakRssMb: number; upstreamCpuMsPerReq: number };
  ratios: {
    rps: number;
    addedP50Ms: number;
    addedP99Ms: number;
    addedTtfbP50Ms?: number;
    addedTtfbP99Ms?: number;
    gatewayCpuVsUpstreamCpu: number;
  };
}

/** A helper script of the bench in its own process; it prints `{"port":N}` once listening. */
async function startHelper(script: string, argv: string[]): Promise<{ url: string; pid: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(script), ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const line = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', res);
    child.once('exit', (code) => rej(new Error(`${script} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, pid: child.pid!, child };
}

const startMock = (port?: string) => startHelper('bench/mock-upstream.ts', port ? ['--port', port] : []);

/** The floor: a do-nothing Node reverse proxy (bench/null-proxy.ts). */
async function startNullProxyTarget(mockUrl: string): Promise<Target> {
  const p = await startHelper('bench/null-proxy.ts', ['--upstream', mockUrl]);
  return {
    name: 'null-proxy',
    url: p.url,
    pid: p.pid,
    notes: ['do-nothing Node reverse proxy (node:http + undici Pool, bodies streamed, no auth): the cost of a loopback hop'],
    stop: async () => {
      p.child.kill('SIGTERM');
    },
  };
}

function gatewayConfig(kind: string, mockUrl: string, pgUrl: string): Record<string, unknown> {
  const base = {
    session: { jwt_secret: JWT_SECRET },
    store: { postgres_url: pgUrl, max_connections: 20 },
    upstreams: [
      { name: 'anthropic', provider: 'anthropic', base_url: mockUrl, auth: { api_key: 'sk-bench-upstream' } },
      { name: 'openai', provider: 'openai', base_url: `${mockUrl}/v1`, auth: { api_key: 'sk-bench-openai' } },
    ],
  };
  if (kind === 'bare') return base;
  if (kind === 'governed' || kind === 'governed-request' || kind === 'governed-pgbouncer' || kind === 'governed-sinks') {
    return {
      ...base,
      managed: {
        policies: [{ name: 'everyone', match: {}, cli: { availableModels: AVAILABLE_MODELS }, codex: { availableModels: ['gpt-5-codex'] } }],
      },
      admin: { write_keys: [{ id: 'bench', key: ADMIN_KEY }] },
      // governed: the default reservation mode (lease); governed-request: one reservation per request.
      enforcement: kind === 'governed-request' ? { mode: 'hard', reservation: 'request', fail_closed_on_error: false } : { mode: 'hard', fail_closed_on_error: false },
    };
  }
  throw new Error(`unknown config "${kind}" (bare, governed, governed-request, governed-pgbouncer, governed-sinks, official-bare, official, null-proxy)`);
}

/** Governed runs put a generous monthly cap on the bench user, so every request is metered but none is blocked. */
async function setSpendCap(url: string, notes: string[], what = 'every request reserved and settled'): Promise<void> {
  try {
    const r = await fetch(`${url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: BENCH_USER.sub }, amount: '100000000', period: 'monthly' }),
    });
    if (r.ok) notes.push(`spend cap set through the admin API (user, monthly, $1M): ${what}`);
    else notes.push(`spend cap NOT set: admin API answered ${r.status} (spend feature not present in this build)`);
  } catch (err) {
    notes.push(`spend cap NOT set: ${(err as Error).message}`);
  }
}

async function startTarget(kind: string, mockUrl: string, pgUrl: string, profileDir?: string): Promise<Target> {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // governed-pgbouncer: the same as governed, its store through PgBouncer in transaction mode
  // (the LISTEN connection direct, store.listen_url), as docs/scaling.md describes past one pool.
  let bouncer: PgBouncer | undefined;
  const config = gatewayConfig(kind, mockUrl, pgUrl);
  if (kind === 'governed-pgbouncer') {
    bouncer = await startPgBouncer({ poolMode: 'transaction', poolSize: 8 });
    config.store = { ...(config.store as object), postgres_url: bouncer.via(pgUrl), listen_url: pgUrl };
  }
  // governed-sinks: governed plus two audit sinks (OTLP logs to a loopback collector, hourly
  // files), so the shipper's cost shows in the same process's CPU per request.
  const sinks = kind === 'governed-sinks' ? await startBenchSinks() : undefined;
  if (sinks) config.audit = { sinks: sinks.config };
  const gw: GatewayProcess = await startGatewayProcess(config, { nodeArgs });
  children.add(gw.child);
  const token = new SessionTokens([JWT_SECRET], gw.url, 24 * 3600).mint(BENCH_USER).token;
  const notes: string[] = [];
  if (kind !== 'bare') {
    if (sinks) notes.push('audit.sinks: otlp (loopback collector answering 200) and file (hourly JSONL in a temp dir)');
    notes.push(
      `managed.policies with availableModels; admin block; enforcement.mode hard, reservation ${kind === 'governed-request' ? 'request' : 'default (lease)'}; ` +
        (bouncer ? 'PostgreSQL store through PgBouncer (transaction pooling, 8 server connections; LISTEN direct)' : 'PostgreSQL store'),
    );
    await setSpendCap(gw.url, notes);
  } else notes.push('no admin block, no policies: auth + proxy only; PostgreSQL store (not on the request path)');
  return {
    name: kind,
    url: gw.url,
    token,
    pid: gw.child.pid,
    notes,
    idleRssMb: rssMb(gw.child.pid!),
    stop: async () => {
      const code = await gw.stop('SIGTERM');
      if (code !== 0) process.stderr.write(`gateway ${kind} exited with ${code}:\n${gw.output()}\n`);
      await bouncer?.close();
      if (sinks) process.stdout.write(`  ${kind}: the OTLP collector accepted ${sinks.received()} audit log exports\n`);
      await sinks?.close();
    },
  };
}

/** A loopback OTLP collector that drains and accepts every export, and a temp dir for the file sink. */
async function startBenchSinks(): Promise<{ config: Record<string, unknown>[]; received(): number; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const { mkdtempSync } = await import('node:fs');
  let records = 0;
  const server = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      records++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-sinks-'));
  return {
    config: [
      { type: 'otlp', name: 'collector', url: `http://127.0.0.1:${port}` },
      { type: 'file', name: 'archive', dir },
    ],
    received: () => records,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Anthropic's gateway on a database of its own (its tables are not ours), configured like ours (bench/official-gateway.ts). */
async function startOfficialTarget(kind: 'official' | 'official-bare', mockUrl: string): Promise<Target> {
  const db = await createPostgresDatabase();
  try {
    const gw = await startOfficialGateway({ kind, mockUrl, pgUrl: db.url, jwtSecret: JWT_SECRET, adminKey: ADMIN_KEY, user: BENCH_USER, availableModels: AVAILABLE_MODELS });
    children.add(gw.child);
    const notes = [`Anthropic's gateway, \`claude gateway\` ${gw.version} (native binary from the npm devDependency); PostgreSQL store`];
    if (kind === 'official') {
      notes.push('managed.policies with the same availableModels; admin block (spend metering: cap read before, spend upserted after, no reservation)');
      await setSpendCap(gw.url, notes, 'every request metered');
    } else notes.push('no admin block, no policies: auth + proxy only (writes nothing per request)');
    const stats = await openPgStats(db.url);
    return {
      name: kind,
      url: gw.url,
      token: gw.token,
      pid: gw.pid,
      notes,
      idleRssMb: rssMb(gw.pid),
      pgStats: stats,
      stop: () => gw.stop(),
      release: () => db.drop().catch(() => {}),
    };
  } catch (err) {
    await db.drop().catch(() => {});
    throw err;
  }
}

/** Transactions and rows written in the bench database: what PostgreSQL sees per request. */
interface PgCounters {
  xacts: number;
  rowsWritten: number;
  rowsRead: number;
}
let pgStats: (() => Promise<PgCounters | undefined>) | undefined;

async function openPgStats(url: string): Promise<() => Promise<PgCounters | undefined>> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.on('error', () => {});
  return async () => {
    // pg_stat_database is updated when backends report (at transaction end, at most every
    // ~1 s since PostgreSQL 15's shared-memory stats); force it for our own session.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ x: string; w: string; r: string }>(
      'SELECT xact_commit + xact_rollback AS x, tup_inserted + tup_updated + tup_deleted AS w, tup_fetched AS r FROM pg_stat_database WHERE datname = current_database()',
    );
    return { xacts: Number(rows[0]!.x), rowsWritten: Number(rows[0]!.w), rowsRead: Number(rows[0]!.r) };
  };
}

function median(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/** Medians across rounds of each latency/throughput figure; counts summed. */
function combine(rounds: LoadResult[]): LoadResult {
  const m = (k: keyof LoadResult) => median(rounds.map((r) => r[k] as number));
  return {
    requests: rounds.reduce((a, r) => a + r.requests, 0),
    allRequests: rounds.reduce((a, r) => a + r.allRequests, 0),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError,
    seconds: rounds.reduce((a, r) => a + r.seconds, 0),
    rps: m('rps'),
    p50: m('p50'),
    p99: m('p99'),
    ...(rounds[0]?.ttfbP50 !== undefined ? { ttfbP50: m('ttfbP50'), ttfbP99: m('ttfbP99') } : {}),
  };
}

/**
 * One cell: `rounds` alternations of direct-to-mock and through-gateway, so load from other
 * processes on a shared machine hits both sides alike; medians across rounds are reported.
 */
async function setUpstreamDelay(mockUrl: string, ms: number): Promise<void> {
  const r = await fetch(`${mockUrl}/__bench/delay?ms=${ms}`, { method: 'POST' });
  if (r.status !== 204) throw new Error(`bench mock refused the delay (${r.status})`);
}

async function measureCell(
  target: Target,
  mock: { url: string; pid: number },
  mode: Mode,
  concurrency: number,
  upstreamDelayMs = 0,
): Promise<Cell> {
  await setUpstreamDelay(mock.url, upstreamDelayMs);
  try {
    return await measureCellRounds(target, mock, mode, concurrency, upstreamDelayMs);
  } finally {
    if (upstreamDelayMs) await setUpstreamDelay(mock.url, 0);
  }
}

interface Tally {
  directRounds: LoadResult[];
  gwRounds: LoadResult[];
  directUpCpu: number;
  gwUpCpu: number;
  gwCpu: number;
  peak: number;
}
const newTally = (): Tally => ({ directRounds: [], gwRounds: [], directUpCpu: 0, gwUpCpu: 0, gwCpu: 0, peak: NaN });

function loadSpec(mode: Mode, concurrency: number, upstreamDelayMs: number) {
  // Delayed cells: workers staggered over one upstream delay (independent clients, not a
  // lockstep burst), a warm-up that covers the stagger, and rounds of at least ~10 replies per worker.
  return {
    stream: isStream(mode),
    api: apiOf(mode),
    concurrency,
    durationMs: Math.max(roundMs, 10 * upstreamDelayMs),
    warmupMs: Math.max(roundWarmupMs, 2 * upstreamDelayMs),
    maxRequests: 500_000,
    bodyBytes,
    staggerMs: upstreamDelayMs,
  };
}

/** One direct-to-mock round, then one through-gateway round, added to the tally. */
async function measureRound(target: Target, mock: { url: string; pid: number }, spec: ReturnType<typeof loadSpec>, t: Tally): Promise<void> {
  let mockCpu0 = 0;
  const d = await runLoad({ ...spec, url: mock.url, onMeasureStart: () => (mockCpu0 = cpuMs(mock.pid)) });
  t.directUpCpu += cpuMs(mock.pid) - mockCpu0;
  t.directRounds.push(d);

  let gwCpu0 = 0;
  let sampler: { stop(): number } | undefined;
  const g = await runLoad({
    ...spec,
    url: target.url,
    token: target.token,
    onMeasureStart: () => {
      mockCpu0 = cpuMs(mock.pid);
      if (target.pid) {
        gwCpu0 = cpuMs(target.pid);
        sampler = rssSampler(target.pid);
      }
    },
  });
  if (target.pid) t.gwCpu += cpuMs(target.pid) - gwCpu0;
  t.gwUpCpu += cpuMs(mock.pid) - mockCpu0;
  if (sampler) {
    const p = sampler.stop();
    if (!(p <= t.peak)) t.peak = p;
  }
  t.gwRounds.push(g);
}

function cellOf(target: Target, mode: Mode, concurrency: number, upstreamDelayMs: number, t: Tally): Cell {
  const direct = combine(t.directRounds);
  const gw = combine(t.gwRounds);
  const gwCpuPerReq = target.pid ? t.gwCpu / Math.max(1, gw.requests) : NaN;
  const directUpCpuPerReq = t.directUpCpu / Math.max(1, direct.requests);
  return {
    target: target.name,
    mode,
    concurrency,
    upstreamDelayMs,
    direct: { ...direct, upstreamCpuMsPerReq: directUpCpuPerReq },
    gateway: { ...gw, cpuMsPerReq: gwCpuPerReq, peakRssMb: t.peak, upstreamCpuMsPerReq: t.gwUpCpu / Math.max(1, gw.requests) },
    ratios: {
      rps: gw.rps / direct.rps,
      addedP50Ms: gw.p50 - direct.p50,
      addedP99Ms: gw.p99 - direct.p99,
      ...(isStream(mode) ? { addedTtfbP50Ms: gw.ttfbP50! - direct.ttfbP50!, addedTtfbP99Ms: gw.ttfbP99! - direct.ttfbP99! } : {}),
      gatewayCpuVsUpstreamCpu: gwCpuPerReq / directUpCpuPerReq,
    },
  };
}

async function measureCellRounds(
  target: Target,
  mock: { url: string; pid: number },
  mode: Mode,
  concurrency: number,
  upstreamDelayMs: number,
): Promise<Cell> {
  const t = newTally();
  const spec = loadSpec(mode, concurrency, upstreamDelayMs);
  for (let round = 0; round < rounds; round++) await measureRound(target, mock, spec, t);
  return cellOf(target, mode, concurrency, upstreamDelayMs, t);
}

/**
 * Cells of several API families at one stream kind and concurrency, their rounds interleaved
 * (Messages, Responses, Messages, …), so the families' CPU per request is compared under the
 * same load rather than minutes apart on a shared machine.
 */
async function measureFamilies(target: Target, mock: { url: string; pid: number }, family: Mode[], concurrency: number): Promise<Cell[]> {
  const specs = family.map((m) => loadSpec(m, concurrency, 0));
  const tallies = family.map(newTally);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < family.length; i++) await measureRound(target, mock, specs[i]!, tallies[i]!);
  }
  return family.map((m, i) => cellOf(target, m, concurrency, 0, tallies[i]!));
}

/** Gateway CPU per request of each Responses cell over the Messages cell of the same target, stream kind and concurrency. */
function familyRatios(cells: Cell[]): { target: string; mode: Mode; concurrency: number; cpuRatio: number }[] {
  return cells
    .filter((c) => isResponses(c.mode) && c.upstreamDelayMs === 0)
    .flatMap((r) => {
      const m = cells.find((c) => c.target === r.target && c.concurrency === r.concurrency && c.upstreamDelayMs === 0 && c.mode === (isStream(r.mode) ? 'sse' : 'json'));
      return m ? [{ target: r.target, mode: r.mode, concurrency: r.concurrency, cpuRatio: r.gateway.cpuMsPerReq / m.gateway.cpuMsPerReq }] : [];
    });
}

const isStream = (mode: Mode) => mode.endsWith('sse');
const stream = isStream;

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

function table(cells: Cell[]): string {
  const head = [
    'target', 'mode', 'conc', 'delay', 'direct req/s', 'gw req/s', 'ratio', 'direct p50', 'added p50', 'added p99', 'added TTFB p50', 'gw CPU ms/req', 'upstream CPU ms/req', 'peak RSS MB', 'errors',
  ];
  const rows = cells.map((c) => [
    c.target,
    c.mode,
    String(c.concurrency),
    String(c.upstreamDelayMs),
    fmt(c.direct.rps, 0),
    fmt(c.gateway.rps, 0),
    fmt(c.ratios.rps),
    fmt(c.direct.p50, 3),
    fmt(c.ratios.addedP50Ms, 3),
    fmt(c.ratios.addedP99Ms, 3),
    fmt(c.ratios.addedTtfbP50Ms, 3),
    fmt(c.gateway.cpuMsPerReq, 3),
    fmt(c.direct.upstreamCpuMsPerReq, 3),
    fmt(c.gateway.peakRssMb, 0),
    String(c.gateway.errors + c.direct.errors),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * Pairs measured in the same run: each Tollgate configuration against the official one configured
 * alike, and every gateway against the do-nothing proxy (its diffs are what the gateway's own work
 * adds on top of a loopback hop).
 */
const PAIRS: [target: string, against: string][] = [
  ['bare', 'official-bare'],
  ['governed', 'official'],
  ['governed-request', 'official'],
  ['governed-pgbouncer', 'governed'],
  ['governed-sinks', 'governed'],
  ['bare', 'null-proxy'],
  ['governed', 'null-proxy'],
  ['governed-request', 'null-proxy'],
  ['official-bare', 'null-proxy'],
  ['official', 'null-proxy'],
];

interface Comparison {
  target: string;
  against: string;
  mode: Mode;
  concurrency: number;
  upstreamDelayMs: number;
  /** Tollgate / official: above 1 = Tollgate serves more. */
  rpsRatio: number;
  /** Tollgate / official: below 1 = Tollgate spends less. */
  cpuRatio: number;
  /** Tollgate minus official, ms: below 0 = Tollgate adds less. */
  addedP50DiffMs: number;
  addedP99DiffMs: number;
  addedTtfbP50DiffMs?: number;
  peakRssRatio: number;
}

function compare(cells: Cell[]): Comparison[] {
  const out: Comparison[] = [];
  for (const [target, against] of PAIRS) {
    for (const a of cells.filter((c) => c.target === target)) {
      const b = cells.find((c) => c.target === against && c.mode === a.mode && c.concurrency === a.concurrency && c.upstreamDelayMs === a.upstreamDelayMs);
      if (!b) continue;
      out.push({
        target,
        against,
        mode: a.mode,
        concurrency: a.concurrency,
        upstreamDelayMs: a.upstreamDelayMs,
        rpsRatio: a.gateway.rps / b.gateway.rps,
        cpuRatio: a.gateway.cpuMsPerReq / b.gateway.cpuMsPerReq,
        addedP50DiffMs: a.ratios.addedP50Ms - b.ratios.addedP50Ms,
        addedP99DiffMs: a.ratios.addedP99Ms - b.ratios.addedP99Ms,
        ...(a.ratios.addedTtfbP50Ms !== undefined && b.ratios.addedTtfbP50Ms !== undefined
          ? { addedTtfbP50DiffMs: a.ratios.addedTtfbP50Ms - b.ratios.addedTtfbP50Ms }
          : {}),
        peakRssRatio: a.gateway.peakRssMb / b.gateway.peakRssMb,
      });
    }
  }
  return out;
}

function comparisonTable(rows: Comparison[]): string {
  const head = ['target', 'against', 'mode', 'conc', 'delay', 'req/s ratio', 'CPU ratio', 'added p50 diff', 'added p99 diff', 'added TTFB diff', 'peak RSS ratio'];
  const body = rows.map((r) => [
    r.target,
    r.against,
    r.mode,
    String(r.concurrency),
    String(r.upstreamDelayMs),
    fmt(r.rpsRatio),
    fmt(r.cpuRatio),
    fmt(r.addedP50DiffMs, 3),
    fmt(r.addedP99DiffMs, 3),
    fmt(r.addedTtfbP50DiffMs, 3),
    fmt(r.peakRssRatio),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i < 3 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The console lane (bench/console.ts): the governed configuration, with admin_groups and the console on or off. */
function runConsole(mockUrl: string): Promise<ConsoleLaneResult> {
  return runConsoleLane({
    rows: Number(args['console-rows'] ?? (args.quick ? 50_000 : 200_000)),
    users: Number(args['console-users']),
    views: Number(args['console-views']),
    requests: Number(args['console-requests']),
    instructions: Number(args['console-instructions']),
    mockUrl,
    jwtSecret: JWT_SECRET,
    token: (url) => new SessionTokens([JWT_SECRET], url, 24 * 3600).mint(BENCH_USER).token,
    adminKey: ADMIN_KEY,
    config: (pgUrl, enabled) => {
      const c = gatewayConfig('governed', mockUrl, pgUrl);
      return { ...c, admin: { ...(c.admin as object), admin_groups: ['admins'] }, console: { enabled } };
    },
    prepare: (url) => setSpendCap(url, []),
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAverageStart = loadavg();
  const resultsDir = resolve('bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const pinning: Pinning | undefined = args.pin ? pinCores() : undefined;
  activePinning = pinning;
  const mock = await startMock(args['mock-port']);
  pinning?.pinHelper(mock.pid);
  const cells: Cell[] = [];
  const targets: Omit<Target, 'stop' | 'token'>[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  let pg: { url: string; drop(): Promise<void> } | undefined;
  let consoleLane: ConsoleLaneResult | undefined;
  try {
    const kinds = args['gateway-url'] ? ['external'] : args.configs!.split(',').map((s) => s.trim()).filter((k) => k !== 'console');
    if (!args['gateway-url']) {
      pg = await createPostgresDatabase();
      // Migrate up front so the gateways' boot writes (flushed to the statistics only when
      // their connections close) do not count as per-request work.
      const db = await openPostgres({ url: pg.url, maxConnections: 1, connectTimeoutSeconds: 5 });
      await migrate(db);
      await db.close();
      pgStats = await openPgStats(pg.url);
    }
    for (const kind of kinds) {
      const profileDir = args.profile ? join(resultsDir, `profile-${stamp}-${kind}`) : undefined;
      // Anthropic's gateway is a comparison, not the subject: if it cannot start here (another
      // platform, no binary), say so and measure the rest.
      const startOfficial = async (k: 'official' | 'official-bare'): Promise<Target | undefined> => {
        try {
          return await startOfficialTarget(k, mock.url);
        } catch (err) {
          process.stderr.write(`[bench] ${k} skipped: ${(err as Error).message.split('\n')[0]}\n`);
          targets.push({ name: k, url: '', notes: [`skipped: ${(err as Error).message.split('\n')[0]}`] });
          return undefined;
        }
      };
      const target: Target | undefined =
        kind === 'external'
          ? {
              name: 'external',
              url: args['gateway-url']!,
              token: args.token,
              pid: args['gateway-pid'] ? Number(args['gateway-pid']) : undefined,
              notes: [`external gateway at ${args['gateway-url']}; upstream mock at ${mock.url}`],
            }
          : kind === 'null-proxy'
            ? await startNullProxyTarget(mock.url)
            : kind === 'official' || kind === 'official-bare'
            ? await startOfficial(kind)
            : await startTarget(kind, mock.url, pg!.url, profileDir);
      if (!target) continue;
      if (target.pid) target.idleRssMb ??= rssMb(target.pid);
      if (target.pid && pinning) pinning.pinGateway(target.pid);
      process.stderr.write(`[bench] ${kind}: ${target.notes.join('; ')}\n`);
      // JIT warm-up of both processes on both paths before any cell is measured.
      for (const mode of modesFor(kind)) {
        const warm = { stream: isStream(mode), api: apiOf(mode), concurrency: 8, durationMs: warmupMs, warmupMs: 0, maxRequests: 100_000, bodyBytes };
        await runLoad({ ...warm, url: mock.url });
        await runLoad({ ...warm, url: target.url, token: target.token });
      }
      const stats = target.pgStats ?? pgStats;
      const pg0 = kind === 'external' || kind === 'null-proxy' ? undefined : await stats?.();
      let served = 0;
      const plan: [mode: Mode, concurrency: number, delay: number][] = [
        ...modesFor(kind).flatMap((m) => concurrencies.filter((c) => !isResponses(m) || c <= 32).map((c): [typeof m, number, number] => [m, c, 0])),
        ...upstreamDelays.flatMap((d) => modes.filter((m) => !isResponses(m)).map((m): [typeof m, number, number] => [m, delayConcurrency, d])),
      ];
      const report = (cell: Cell) => {
        served += cell.gateway.allRequests;
        cells.push(cell);
        const { mode, concurrency: c, upstreamDelayMs: delay } = cell;
        process.stderr.write(
          `[bench] ${kind} ${mode} c=${c}${delay ? ` upstream ${delay} ms` : ''}: ${fmt(cell.gateway.rps, 0)} req/s (direct ${fmt(cell.direct.rps, 0)}), added p50 ${fmt(cell.ratios.addedP50Ms, 3)} ms, p99 ${fmt(cell.ratios.addedP99Ms, 3)} ms${stream(mode) ? `, TTFB ${fmt(cell.ratios.addedTtfbP50Ms, 3)} ms` : ''}, CPU ${fmt(cell.gateway.cpuMsPerReq, 3)} ms/req\n`,
        );
      };
      // A Responses cell runs interleaved with the Messages cell of its stream kind and concurrency.
      const partner = (m: Mode, c: number): Mode | undefined => {
        const base: Mode = isStream(m) ? 'sse' : 'json';
        return isResponses(m) && plan.some(([pm, pc, pd]) => pm === base && pc === c && pd === 0) ? base : undefined;
      };
      const paired = new Set(plan.flatMap(([m, c, d]) => (d === 0 && partner(m, c) ? [`${partner(m, c)}@${c}`, `${m}@${c}`] : [])));
      for (const [mode, c, delay] of plan) {
        if (delay === 0 && paired.has(`${mode}@${c}`)) {
          if (!isResponses(mode)) continue;
          for (const cell of await measureFamilies(target, mock, [partner(mode, c)!, mode], c)) report(cell);
          continue;
        }
        report(await measureCell(target, mock, mode, c, delay));
      }
      await target.stop?.();
      if (pg0) {
        // A backend flushes its statistics when it exits: read them once the gateway is gone.
        await new Promise((r) => setTimeout(r, 300));
        const pg1 = (await stats!())!;
        const n = Math.max(1, served);
        target.pgPerRequest = {
          xacts: (pg1.xacts - pg0.xacts) / n,
          rowsWritten: (pg1.rowsWritten - pg0.rowsWritten) / n,
          rowsRead: (pg1.rowsRead - pg0.rowsRead) / n,
          requests: n,
        };
      }
      await target.release?.();
      const { stop: _s, token: _t, pgStats: _p, release: _r, ...rest } = target;
      targets.push(rest);
      if (profileDir) {
        const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
        if (file) {
          profiles[kind] = summarizeProfile(join(profileDir, file));
          writeFileSync(join(profileDir, 'summary.txt'), formatProfile(profiles[kind]) + '\n');
        }
      }
    }
    if (!args['gateway-url'] && args.configs!.split(',').map((k) => k.trim()).includes('console')) consoleLane = await runConsole(mock.url);
  } finally {
    pinning?.restore();
    activePinning = undefined;
    mock.child.kill('SIGTERM');
    await pg?.drop().catch(() => {});
  }

  const machine = {
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    note: pinning?.note ?? 'load generator, mock upstream, gateway and PostgreSQL share these cores',
    loadAverageStart,
    loadAverageEnd: loadavg(),
  };
  const result = {
    at: new Date().toISOString(),
    machine,
    settings: { quick: args.quick, rounds, roundMs, roundWarmupMs, warmupMs, bodyBytes, concurrencies, modes, upstreamDelays, delayConcurrency },
    targets,
    cells,
    comparisons: compare(cells),
    families: familyRatios(cells),
    profiles,
    console: consoleLane,
    seconds: (Date.now() - started) / 1000,
  };
  const out = args.out ?? join(resultsDir, `bench-${stamp}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`\n${table(cells)}\n\n`);
  process.stdout.write(
    `latency in ms; "added" = through the gateway minus direct to the mock, same run; ratio = gateway req/s / direct req/s\n` +
      `delay 0 = saturation cells (mock answers at once: CPU/request and throughput; their latency is queueing); ` +
      `delay N = the mock holds each reply N ms (streams: before the first event): the latency the gateway adds\n`,
  );
  if (result.comparisons.length) {
    process.stdout.write(
      `Targets against each other, same run, same mock, same PostgreSQL (ratios target / against; diffs target minus against, ms;\n` +
        `against null-proxy, the diffs are what the gateway's own work adds on top of a loopback hop):\n${comparisonTable(result.comparisons)}\n\n`,
    );
  }
  if (result.families.length) {
    process.stdout.write(
      `OpenAI Responses against Anthropic Messages, gateway CPU per request (rounds interleaved in the same run; target ≤ 1.20):\n` +
        result.families.map((f) => `  ${f.target} ${f.mode} c=${f.concurrency}: ${fmt(f.cpuRatio)}`).join('\n') +
        '\n\n',
    );
  }
  for (const t of targets) {
    const pgLine = t.pgPerRequest
      ? `; PostgreSQL per request: ${fmt(t.pgPerRequest.xacts)} transactions, ${fmt(t.pgPerRequest.rowsWritten)} rows written, ${fmt(t.pgPerRequest.rowsRead)} rows read`
      : '';
    process.stdout.write(`${t.name}: idle RSS ${fmt(t.idleRssMb, 0)} MB${pgLine}; ${t.notes.join('; ')}\n`);
  }
  process.stdout.write(`load average at start ${machine.loadAverageStart.map((l) => l.toFixed(1)).join(' ')}, at end ${machine.loadAverageEnd.map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores\n`);
  if (consoleLane) process.stdout.write(`\n${consoleTable(consoleLane)}\n`);
  for (const [k, p] of Object.entries(profiles)) process.stdout.write(`\nprofile (${k}):\n${formatProfile(p)}\n`);
  process.stdout.write(`\nresults: ${out} (${result.seconds.toFixed(0)} s)\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);

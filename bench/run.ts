/**
 * npm run bench: the gateway's cost, measured against the upstream alone in the same run.
 *
 *   npm run bench                      default matrix (~3 min)
 *   npm run bench -- --quick           same matrix, short cells (~30 s)
 *   npm run bench -- --profile         also write a V8 CPU profile of each gateway and summarise it
 *   npm run bench -- --gateway-url https://gw.internal:8443 --token <bearer> [--gateway-pid N] --mock-port 9999
 *                                      the same matrix against another gateway (e.g. the official one),
 *                                      configured beforehand with upstream base_url http://127.0.0.1:9999
 *   options: --configs bare,governed  --concurrency 1,32,256  --modes json,sse  --body-bytes 2048
 *            --duration-ms N --warmup-ms N --out file.json
 *
 * Processes: this one (load generator and orchestration), the mock upstream, and the bundled
 * gateway (dist/server/tollgate-gateway.js) as operators run it, on real PostgreSQL. Gateway CPU
 * and RSS come from /proc/<pid>, so nothing in the gateway is instrumented for the benchmark.
 * Each cell runs direct-to-mock then through-gateway back to back, and reports the difference.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { SessionTokens } from '../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../test/support/db';
import { startGatewayProcess, type GatewayProcess } from '../test/support/process';
import { runLoad, type LoadResult } from './load';
import { cpuMs, rssMb, rssSampler } from './proc-stats';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile-summary';

const JWT_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const ADMIN_KEY = 'bench-admin-write-key-0123456789abcdef';
const BENCH_USER = { sub: 'bench-user', email: 'bench@example.com', groups: ['engineering'] };

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'gateway-url': { type: 'string' },
    token: { type: 'string' },
    'gateway-pid': { type: 'string' },
    'mock-port': { type: 'string' },
    configs: { type: 'string', default: 'bare,governed' },
    concurrency: { type: 'string', default: '1,32,256' },
    modes: { type: 'string', default: 'json,sse' },
    'body-bytes': { type: 'string', default: '2048' },
    'duration-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    out: { type: 'string' },
  },
});

const durationMs = Number(args['duration-ms'] ?? (args.quick ? 1000 : 4000));
const warmupMs = Number(args['warmup-ms'] ?? (args.quick ? 300 : 1000));
const concurrencies = args.concurrency!.split(',').map(Number);
const modes = args.modes!.split(',').map((m) => m.trim()) as ('json' | 'sse')[];
const bodyBytes = Number(args['body-bytes']);

interface Target {
  name: string;
  url: string;
  token?: string;
  pid?: number;
  notes: string[];
  idleRssMb?: number;
  stop?: () => Promise<void>;
}

interface Cell {
  target: string;
  mode: 'json' | 'sse';
  concurrency: number;
  direct: LoadResult & { upstreamCpuMsPerReq: number };
  gateway: LoadResult & { cpuMsPerReq: number; peakRssMb: number; upstreamCpuMsPerReq: number };
  /** PostgreSQL transactions and rows per gateway request (bench database only). */
  pgPerRequest?: { xacts: number; rowsWritten: number; rowsRead: number };
  ratios: {
    rps: number;
    addedP50Ms: number;
    addedP99Ms: number;
    addedTtfbP50Ms?: number;
    addedTtfbP99Ms?: number;
    gatewayCpuVsUpstreamCpu: number;
  };
}

async function startMock(port?: string): Promise<{ url: string; pid: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('bench/mock-upstream.ts'), ...(port ? ['--port', port] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', res);
    child.once('exit', (code) => rej(new Error(`bench mock exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, pid: child.pid!, child };
}

function gatewayConfig(kind: string, mockUrl: string, pgUrl: string): Record<string, unknown> {
  const base = {
    session: { jwt_secret: JWT_SECRET },
    store: { postgres_url: pgUrl, max_connections: 20 },
    upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mockUrl, auth: { api_key: 'sk-bench-upstream' } }],
  };
  if (kind === 'bare') return base;
  if (kind === 'governed') {
    return {
      ...base,
      managed: {
        policies: [{ name: 'everyone', match: {}, cli: { availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'] } }],
      },
      admin: { write_keys: [{ id: 'bench', key: ADMIN_KEY }] },
      enforcement: { mode: 'hard', fail_closed_on_error: false },
    };
  }
  throw new Error(`unknown config "${kind}" (bare, governed)`);
}

/** Governed runs put a generous monthly cap on the bench user, so every request is metered but none is blocked. */
async function setSpendCap(url: string, notes: string[]): Promise<void> {
  try {
    const r = await fetch(`${url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: BENCH_USER.sub }, amount: '100000000', period: 'monthly' }),
    });
    if (r.ok) notes.push('spend cap set through the admin API (user, monthly, $1M): every request reserved and settled');
    else notes.push(`spend cap NOT set: admin API answered ${r.status} (spend feature not present in this build)`);
  } catch (err) {
    notes.push(`spend cap NOT set: ${(err as Error).message}`);
  }
}

async function startTarget(kind: string, mockUrl: string, pgUrl: string, profileDir?: string): Promise<Target> {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const gw: GatewayProcess = await startGatewayProcess(gatewayConfig(kind, mockUrl, pgUrl), { nodeArgs });
  const token = new SessionTokens([JWT_SECRET], gw.url, 24 * 3600).mint(BENCH_USER).token;
  const notes: string[] = [];
  if (kind === 'governed') {
    notes.push('managed.policies with availableModels; admin block; enforcement.mode hard; PostgreSQL store');
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
    },
  };
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

async function measureCell(target: Target, mock: { url: string; pid: number }, mode: 'json' | 'sse', concurrency: number): Promise<Cell> {
  const stream = mode === 'sse';
  const common = { stream, concurrency, durationMs, warmupMs, maxRequests: 500_000, bodyBytes };
  let mockCpu0 = 0;
  const direct = await runLoad({ ...common, url: mock.url, onMeasureStart: () => (mockCpu0 = cpuMs(mock.pid)) });
  const directUpCpu = (cpuMs(mock.pid) - mockCpu0) / Math.max(1, direct.requests);

  let gwCpu0 = 0;
  let sampler: { stop(): number } | undefined;
  const pg0 = target.name === 'external' ? undefined : await pgStats?.();
  const gw = await runLoad({
    ...common,
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
  const gwCpu = target.pid ? (cpuMs(target.pid) - gwCpu0) / Math.max(1, gw.requests) : NaN;
  const peak = sampler ? sampler.stop() : NaN;
  const gwUpCpu = (cpuMs(mock.pid) - mockCpu0) / Math.max(1, gw.requests);
  // Stats reach pg_stat_database up to a second after the backends' transactions end.
  let pgPerRequest: Cell['pgPerRequest'];
  if (pg0) {
    await new Promise((r) => setTimeout(r, 1100));
    const pg1 = (await pgStats!())!;
    // Includes warm-up requests and our own stats queries (2 per cell): an upper bound.
    const n = Math.max(1, gw.requests);
    pgPerRequest = { xacts: (pg1.xacts - pg0.xacts - 2) / n, rowsWritten: (pg1.rowsWritten - pg0.rowsWritten) / n, rowsRead: (pg1.rowsRead - pg0.rowsRead) / n };
  }
  return {
    pgPerRequest,
    target: target.name,
    mode,
    concurrency,
    direct: { ...direct, upstreamCpuMsPerReq: directUpCpu },
    gateway: { ...gw, cpuMsPerReq: gwCpu, peakRssMb: peak, upstreamCpuMsPerReq: gwUpCpu },
    ratios: {
      rps: gw.rps / direct.rps,
      addedP50Ms: gw.p50 - direct.p50,
      addedP99Ms: gw.p99 - direct.p99,
      ...(stream ? { addedTtfbP50Ms: gw.ttfbP50! - direct.ttfbP50!, addedTtfbP99Ms: gw.ttfbP99! - direct.ttfbP99! } : {}),
      gatewayCpuVsUpstreamCpu: gwCpu / directUpCpu,
    },
  };
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

function table(cells: Cell[]): string {
  const head = [
    'target', 'mode', 'conc', 'direct req/s', 'gw req/s', 'ratio', 'direct p50', 'added p50', 'added p99', 'added TTFB p50', 'gw CPU ms/req', 'upstream CPU ms/req', 'peak RSS MB', 'pg xact/req', 'errors',
  ];
  const rows = cells.map((c) => [
    c.target,
    c.mode,
    String(c.concurrency),
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
    fmt(c.pgPerRequest?.xacts),
    String(c.gateway.errors + c.direct.errors),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const resultsDir = resolve('bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const mock = await startMock(args['mock-port']);
  const cells: Cell[] = [];
  const targets: Omit<Target, 'stop' | 'token'>[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  let pg: { url: string; drop(): Promise<void> } | undefined;
  try {
    const kinds = args['gateway-url'] ? ['external'] : args.configs!.split(',').map((s) => s.trim());
    if (!args['gateway-url']) {
      pg = await createPostgresDatabase();
      pgStats = await openPgStats(pg.url);
    }
    for (const kind of kinds) {
      const profileDir = args.profile ? join(resultsDir, `profile-${stamp}-${kind}`) : undefined;
      const target: Target =
        kind === 'external'
          ? {
              name: 'external',
              url: args['gateway-url']!,
              token: args.token,
              pid: args['gateway-pid'] ? Number(args['gateway-pid']) : undefined,
              notes: [`external gateway at ${args['gateway-url']}; upstream mock at ${mock.url}`],
            }
          : await startTarget(kind, mock.url, pg!.url, profileDir);
      if (target.pid) target.idleRssMb ??= rssMb(target.pid);
      process.stderr.write(`[bench] ${kind}: ${target.notes.join('; ')}\n`);
      // JIT warm-up of both processes on both paths before any cell is measured.
      for (const mode of modes) {
        const warm = { stream: mode === 'sse', concurrency: 8, durationMs: warmupMs * 2, warmupMs: 0, maxRequests: 100_000, bodyBytes };
        await runLoad({ ...warm, url: mock.url });
        await runLoad({ ...warm, url: target.url, token: target.token });
      }
      for (const mode of modes) {
        for (const c of concurrencies) {
          const cell = await measureCell(target, mock, mode, c);
          cells.push(cell);
          process.stderr.write(
            `[bench] ${kind} ${mode} c=${c}: ${fmt(cell.gateway.rps, 0)} req/s (direct ${fmt(cell.direct.rps, 0)}), added p50 ${fmt(cell.ratios.addedP50Ms, 3)} ms, CPU ${fmt(cell.gateway.cpuMsPerReq, 3)} ms/req\n`,
          );
        }
      }
      await target.stop?.();
      const { stop: _s, token: _t, ...rest } = target;
      targets.push(rest);
      if (profileDir) {
        const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
        if (file) {
          profiles[kind] = summarizeProfile(join(profileDir, file));
          writeFileSync(join(profileDir, 'summary.txt'), formatProfile(profiles[kind]) + '\n');
        }
      }
    }
  } finally {
    mock.child.kill('SIGTERM');
    await pg?.drop().catch(() => {});
  }

  const machine = {
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    note: 'load generator, mock upstream, gateway and PostgreSQL share these cores',
  };
  const result = {
    at: new Date().toISOString(),
    machine,
    settings: { quick: args.quick, durationMs, warmupMs, bodyBytes, concurrencies, modes },
    targets,
    cells,
    profiles,
    seconds: (Date.now() - started) / 1000,
  };
  const out = args.out ?? join(resultsDir, `bench-${stamp}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`\n${table(cells)}\n\n`);
  process.stdout.write(`latency in ms; "added" = through the gateway minus direct to the mock, same run; ratio = gateway req/s / direct req/s\n`);
  for (const t of targets) process.stdout.write(`${t.name}: idle RSS ${fmt(t.idleRssMb, 0)} MB; ${t.notes.join('; ')}\n`);
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

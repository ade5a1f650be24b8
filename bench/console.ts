/**
 * The console lane of `npm run bench` (issue 18): audit rows and users seeded in PostgreSQL, then
 * every console page and the Reports API timed against the bundled gateway (p50/p95 of repeated
 * requests, signed in as an admin, measured by the client over loopback), with the HTTP requests
 * one page view makes (the document plus every subresource its HTML names); then the gateway CPU
 * per inference request with the console on and off (rollup maintenance), two gateway processes
 * on fresh databases, alternating rounds, CPU read from /proc.
 *
 *   npm run bench -- --configs console --console-rows 1000000     the target's scale (≈ 6 min)
 *   npm run bench                                                 the lane at its default seed (200,000 rows)
 *
 * Seeded rows spread over the last 30 days, 10,000 users in 50 groups, 3 models, 2 upstreams.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { createPostgresDatabase } from '../test/support/db';
import { openPostgres } from '../gateway-server/src/store/postgres';
import { migrate } from '../gateway-server/src/store/migrate';
import { REBUILD_SQL, rollupSql } from '../gateway-server/src/console/rollup';
import type { AuditContent } from '../gateway-server/src/audit/record';
import { CookieSigner } from '../gateway-server/src/console/web/session';
import { NAV } from '../gateway-server/src/console/web/layout';
import { startGatewayProcess, type GatewayProcess } from '../test/support/process';
import { measureInstructions, type InstructionFigures } from './console-instructions';
import { runLoad } from './load';
import { cpuMs } from './proc-stats';

export interface ConsoleLaneOptions {
  rows: number;
  users: number;
  /** Page views per page (after two warm-ups). */
  views: number;
  /** Inference requests per CPU round (CPU_ROUNDS rounds each side). */
  requests: number;
  mockUrl: string;
  jwtSecret: string;
  /** The governed configuration of the matrix for a store, plus admin_groups and the console flag. */
  config(pgUrl: string, consoleEnabled: boolean): Record<string, unknown>;
  /** A bearer for the load generator's requests, an Admin API key for the Reports API, and a setup step (the spend cap) per gateway. */
  token(gatewayUrl: string): string;
  adminKey: string;
  prepare(url: string): Promise<void>;
  log(line: string): void;
  /** Also count instructions per inference request under callgrind, console on and off, over this many requests (0: skip). */
  instructions?: number;
}

export interface PageFigure {
  name: string;
  url: string;
  p50: number;
  p95: number;
  requestsPerView: number;
  bytes: number;
  /** The gateway process's own CPU per view (from /proc): what the load of other processes does not inflate. */
  gatewayCpuMs: number;
}

export interface ConsoleLaneResult {
  rows: number;
  users: number;
  seedSeconds: number;
  tierRows: Record<string, number>;
  pages: PageFigure[];
  cpu: {
    onUsPerRequest: number;
    offUsPerRequest: number;
    /** Of the medians, and the median of each pair's ratio. */
    ratio: number;
    pairRatio: number;
    rounds: { on: number[]; off: number[] };
    /** The write path's own statement building (rollupSql), µs of this process's CPU per audit row, by batch size. */
    writePath: Record<string, number>;
  };
  instructions?: InstructionFigures;
  loadAverage: { start: number[]; end: number[] };
}

/** Alternating rounds per side: on a shared machine one round can be off by half. */
const CPU_ROUNDS = 6;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function seed(url: string, rows: number, users: number): Promise<Record<string, number>> {
  const db = await openPostgres({ url, maxConnections: 1, connectTimeoutSeconds: 5 });
  try {
    await migrate(db);
    const span = 30 * 86_400; // seconds: the rows spread evenly over the last 30 days
    for (let start = 1; start <= rows; start += 200_000) {
      const end = Math.min(rows, start + 199_999);
      await db.query(`INSERT INTO audit_log (chain, seq, at, event, request_id, sub, email, groups, model, upstream, status, outcome, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_micros, latency_ms, prev_hash, hash)
        SELECT 'bench', g, now() - ((g::bigint * ${span}) / ${rows}) * interval '1 second', 'inference', 'req_' || g, 'user' || (g % ${users}), 'user' || (g % ${users}) || '@example.com',
          jsonb_build_array('team' || (g % 50)), (ARRAY['claude-sonnet-4-6','claude-opus-4-5','claude-haiku-4-5'])[1 + g % 3], (ARRAY['anthropic','bedrock'])[1 + g % 2],
          200, CASE WHEN g % 97 = 0 THEN 'upstream_error' ELSE 'ok' END, 1000 + g % 5000, 200 + g % 900, g % 20000, g % 3000, 100 + (g::bigint * 7919) % 90000, 500, 'x', 'x'
        FROM generate_series(${start}, ${end}) AS g`);
    }
    await db.query(`INSERT INTO spend_principals (sub, email, name, groups, last_seen)
      SELECT 'user' || u, 'user' || u || '@example.com', 'User ' || u, jsonb_build_array('team' || (u % 50)), now() - (u % 1000) * interval '1 minute' FROM generate_series(0, ${users - 1}) AS u`);
    // The tiers as the console's rebuild makes them (the write path's statement is timed below).
    for (const sql of REBUILD_SQL.split(';').map((s) => s.trim()).filter(Boolean)) await db.query(sql);
    await db.query('VACUUM ANALYZE');
    const counts: Record<string, number> = {};
    for (const t of ['audit_log', 'console_rollup_mu', 'console_rollup_group', 'console_rollup_user', 'console_user_last_seen']) {
      counts[t] = Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t}`)).rows[0]!.n);
    }
    return counts;
  } finally {
    await db.close();
  }
}

/** HTTP requests a browser makes for one view of `html`: the document, each subresource, and /favicon.ico unless an icon is declared. */
export function requestsPerView(html: string): number {
  const sub = [...html.matchAll(/<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\ssrc="(?!data:)[^"]+"|<link\b[^>]*\shref="(?!data:)[^"]+"/gi)].length;
  const icon = /<link\b[^>]*rel="(?:shortcut )?icon"/i.test(html);
  return 1 + sub + (icon ? 0 : 1);
}

async function timePages(gw: GatewayProcess, o: ConsoleLaneOptions): Promise<PageFigure[]> {
  const cookies = new CookieSigner(o.jwtSecret, false);
  const cookie = `${cookies.session}=${cookies.seal({ sub: 'bench-admin', groups: ['admins'], csrf: 'bench', sid: 'bench-console-session', iat: Math.floor(Date.now() / 1000) - 5, exp: Math.floor(Date.now() / 1000) + 24 * 3600 })}`;
  const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
  const targets: [string, string][] = [
    ...NAV.map(([id, , path]) => [id, path] as [string, string]),
    ['overview 90 d by group, Kolkata', '/console?days=90&by=group&tz=Asia/Kolkata'],
    ['overview 30 d by user', '/console?days=30&by=user'],
    ['users search', '/console/users?q=user42'],
    ['reports/spend 31 d by user by day, Berlin', `/v1/organizations/reports/spend?from=${day(-30)}&to=${day(1)}&group_by=user&tz=Europe/Berlin`],
    ['reports/usage 31 d by user, Berlin', `/v1/organizations/reports/usage?from=${day(-30)}&to=${day(1)}&group_by=user&bucket=none&tz=Europe/Berlin`],
    ['reports/usage 90 d by group by day, Kolkata', `/v1/organizations/reports/usage?from=${day(-89)}&to=${day(1)}&group_by=group&tz=Asia/Kolkata`],
    ['reports/usage mid-hour by model, St_Johns', `/v1/organizations/reports/usage?from=${new Date(Date.now() - 20 * 86_400_000 - 1_234_567).toISOString()}&to=${new Date().toISOString()}&group_by=model&tz=America/St_Johns`],
  ];
  const out: PageFigure[] = [];
  for (const [name, url] of targets) {
    const times: number[] = [];
    let body = '';
    let cpu0 = 0;
    // The by-user-by-day report returns ~300,000 rows (tens of MB) at the full seed: fewer views.
    const views = name.includes('by user by day') ? Math.min(o.views, 5) : o.views;
    for (let i = 0; i < views + 2; i++) {
      if (i === 2) cpu0 = cpuMs(gw.child.pid!);
      const t = performance.now();
      const res = await fetch(`${gw.url}${url}`, { redirect: 'manual', headers: url.startsWith('/v1/') ? { 'x-api-key': o.adminKey } : { cookie } });
      body = await res.text();
      if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
      if (i >= 2) times.push(performance.now() - t);
    }
    const gatewayCpuMs = (cpuMs(gw.child.pid!) - cpu0) / views;
    const fig = { name, url, p50: pct(times, 50), p95: pct(times, 95), requestsPerView: url.startsWith('/v1/') ? 1 : requestsPerView(body), bytes: Buffer.byteLength(body), gatewayCpuMs };
    o.log(`[bench] console ${name}: p50 ${fig.p50.toFixed(1)} ms, p95 ${fig.p95.toFixed(1)} ms, gateway CPU ${gatewayCpuMs.toFixed(1)} ms, ${fig.requestsPerView} request(s) per view, ${fig.bytes} bytes`);
    out.push(fig);
  }
  return out;
}

/** CPU µs per row that building a batch's rollup statement costs, for batches of 1 and 8 rows (the gateway's side of rollup maintenance). */
function writePathCost(): Record<string, number> {
  const row = (i: number): AuditContent => ({
    at: new Date(Date.now() - i * 1000), event: 'inference', request_id: `req_${i}`, sub: `user${i % 50}`, email: null, groups: [`team${i % 5}`], actor: null, surface: 'claude_code',
    session_id: null, model: 'claude-sonnet-4-6', upstream: 'anthropic', status: 200, outcome: 'ok', reason: null, input_tokens: '1200', output_tokens: '300', cache_read_tokens: '9000',
    cache_creation_tokens: '100', cost_micros: '12345', latency_ms: 500, detail: null,
  });
  const out: Record<string, number> = {};
  for (const size of [1, 8]) {
    const batches = Array.from({ length: 200 }, (_, b) => Array.from({ length: size }, (_, i) => row(b * size + i)));
    for (const b of batches) rollupSql(b); // warm-up
    const t = process.cpuUsage();
    for (let k = 0; k < 20; k++) for (const b of batches) rollupSql(b);
    const d = process.cpuUsage(t);
    out[`batch of ${size}`] = (d.user + d.system) / (20 * batches.length * size);
  }
  return out;
}

/** Gateway CPU (µs, from /proc) per inference request over `n` requests at concurrency 8. */
async function cpuRound(gw: GatewayProcess, o: ConsoleLaneOptions, n: number): Promise<number> {
  let cpu0 = 0;
  const r = await runLoad({ url: gw.url, token: o.token(gw.url), stream: false, concurrency: 8, durationMs: 600_000, warmupMs: 0, maxRequests: n, bodyBytes: 2048, onMeasureStart: () => (cpu0 = cpuMs(gw.child.pid!)) });
  if (r.errors) throw new Error(`console lane: ${r.errors} failed requests (${r.firstError})`);
  return ((cpuMs(gw.child.pid!) - cpu0) * 1000) / r.requests;
}

async function measureCpu(o: ConsoleLaneOptions): Promise<ConsoleLaneResult['cpu']> {
  const dbs = [await createPostgresDatabase(), await createPostgresDatabase()];
  const gws: GatewayProcess[] = [];
  try {
    for (const d of dbs) {
      const db = await openPostgres({ url: d.url, maxConnections: 1, connectTimeoutSeconds: 5 });
      await migrate(db);
      await db.close();
    }
    const [on, off] = [await startGatewayProcess(o.config(dbs[0]!.url, true)), await startGatewayProcess(o.config(dbs[1]!.url, false))];
    gws.push(on, off);
    for (const g of gws) await o.prepare(g.url);
    for (const g of gws) await cpuRound(g, o, Math.ceil(o.requests / 3)); // JIT warm-up
    const rounds = { on: [] as number[], off: [] as number[] };
    // ABBA order: whichever side runs first in a pair would otherwise carry the machine's drift.
    for (let i = 0; i < CPU_ROUNDS; i++) {
      for (const side of i % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) rounds[side].push(await cpuRound(side === 'on' ? on : off, o, o.requests));
    }
    const [onUs, offUs] = [pct(rounds.on, 50), pct(rounds.off, 50)];
    const pairRatio = pct(rounds.on.map((x, i) => x / rounds.off[i]!), 50);
    return { onUsPerRequest: onUs, offUsPerRequest: offUs, ratio: onUs / offUs, pairRatio, rounds, writePath: writePathCost() };
  } finally {
    for (const g of gws) await g.stop('SIGTERM');
    for (const d of dbs) await d.drop().catch(() => {});
  }
}

export async function runConsoleLane(o: ConsoleLaneOptions): Promise<ConsoleLaneResult> {
  const start = loadavg();
  const big = await createPostgresDatabase();
  try {
    const t0 = performance.now();
    const tierRows = await seed(big.url, o.rows, o.users);
    const seedSeconds = (performance.now() - t0) / 1000;
    o.log(`[bench] console: seeded ${o.rows} audit rows, ${o.users} users in ${seedSeconds.toFixed(0)} s; rows per table ${JSON.stringify(tierRows)}`);
    const gw = await startGatewayProcess(o.config(big.url, true));
    let pages: PageFigure[];
    try {
      pages = await timePages(gw, o);
    } finally {
      await gw.stop('SIGTERM');
    }
    const cpu = await measureCpu(o);
    o.log(`[bench] console: gateway CPU per inference request ${cpu.onUsPerRequest.toFixed(0)} µs with the console on, ${cpu.offUsPerRequest.toFixed(0)} µs off (on/off ${cpu.ratio.toFixed(3)}, median pair ${cpu.pairRatio.toFixed(3)})`);
    const instructions = o.instructions ? await measureInstructions(o, o.instructions) : undefined;
    if (instructions) o.log(`[bench] console: instructions per inference request ${instructions.onPerRequest.toFixed(0)} on, ${instructions.offPerRequest.toFixed(0)} off (on/off ${instructions.ratio.toFixed(4)})`);
    return { rows: o.rows, users: o.users, seedSeconds, tierRows, pages, cpu, instructions, loadAverage: { start, end: loadavg() } };
  } finally {
    await big.drop().catch(() => {});
  }
}

export function consoleTable(r: ConsoleLaneResult): string {
  const head = ['page', 'p50 ms', 'p95 ms', 'gateway CPU ms/view', 'requests/view', 'bytes'];
  const rows = r.pages.map((p) => [p.name, p.p50.toFixed(1), p.p95.toFixed(1), p.gatewayCpuMs.toFixed(1), String(p.requestsPerView), String(p.bytes)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (x: string[]) => x.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [
    `console lane: ${r.rows} audit rows, ${r.users} users (PostgreSQL); p50/p95 measured by the client over loopback; gateway CPU from /proc (PostgreSQL's not included)`,
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    `gateway CPU per inference request: console on ${r.cpu.onUsPerRequest.toFixed(0)} µs, off ${r.cpu.offUsPerRequest.toFixed(0)} µs, on/off ${r.cpu.ratio.toFixed(3)} (median of ${r.cpu.rounds.on.length} ABBA rounds each; median of pair ratios ${r.cpu.pairRatio.toFixed(3)}; rounds on ${r.cpu.rounds.on.map((x) => x.toFixed(0)).join('/')}, off ${r.cpu.rounds.off.map((x) => x.toFixed(0)).join('/')})`,
    ...(r.instructions
      ? [`instructions per inference request under callgrind (load-independent; the gateway process only): console on ${r.instructions.onPerRequest.toFixed(0)}, off ${r.instructions.offPerRequest.toFixed(0)}, on/off ${r.instructions.ratio.toFixed(4)} over ${r.instructions.requests} requests`]
      : []),
    `the write path's rollup statement (rollupSql), CPU per audit row: ${Object.entries(r.cpu.writePath).map(([k, v]) => `${v.toFixed(1)} µs in a ${k}`).join(', ')}`,
    `load average ${r.loadAverage.start.map((l) => l.toFixed(1)).join(' ')} at the lane's start, ${r.loadAverage.end.map((l) => l.toFixed(1)).join(' ')} at its end`,
  ].join('\n');
}

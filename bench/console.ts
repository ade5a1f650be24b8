/**
 * Console lane (issue 18): 1,000,000 audit rows and 10,000 users seeded in PostgreSQL, every
 * console page's server time (p50/p95 over repeated in-process requests, signed in as an admin)
 * and the Reports API; then the CPU cost of rollup maintenance per inference request: the same
 * gateway build with the console on and off, same run, alternating rounds.
 *
 *   node --import tsx bench/console.ts [--rows 1000000] [--users 10000] [--requests 1500]
 *
 * The CPU figure is this process's CPU (gateway + in-process load generator + mock upstream)
 * per request; the difference on − off is the rollup maintenance, and the ratio is against a
 * denominator that includes the load generator, so it understates the share of gateway CPU.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createPostgresDatabase } from '../test/support/db';
import { startMockAnthropic } from '../test/support/mock-anthropic';
import { startTestGateway, testConfig, type TestGateway } from '../test/support/gateway';
import { openPostgres } from '../gateway-server/src/store/postgres';
import { migrate } from '../gateway-server/src/store/migrate';
import { REBUILD_SQL } from '../gateway-server/src/console/rollup';
import { CookieSigner } from '../gateway-server/src/console/web/session';
import { NAV } from '../gateway-server/src/console/web/layout';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, users: { type: 'string', default: '10000' }, requests: { type: 'string', default: '1500' } } });
const ROWS = Number(values.rows);
const USERS = Number(values.users);
const REQUESTS = Number(values.requests);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function seed(url: string): Promise<void> {
  const db = await openPostgres({ url } as never);
  await migrate(db);
  const t0 = performance.now();
  // 30 days of rows, spread over users, 50 groups, 3 models, 2 upstreams.
  for (let start = 1; start <= ROWS; start += 200_000) {
    const end = Math.min(ROWS, start + 199_999);
    await db.query(`INSERT INTO audit_log (chain, seq, at, event, request_id, sub, email, groups, model, upstream, status, outcome, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_micros, latency_ms, prev_hash, hash)
      SELECT 'bench', g, now() - (g % 2592000) * interval '1 second', 'inference', 'req_' || g, 'user' || (g % ${USERS}), 'user' || (g % ${USERS}) || '@example.com',
        jsonb_build_array('team' || (g % 50)), (ARRAY['claude-sonnet-4-6','claude-opus-4-5','claude-haiku-4-5'])[1 + g % 3], (ARRAY['anthropic','bedrock'])[1 + g % 2],
        200, CASE WHEN g % 97 = 0 THEN 'upstream_error' ELSE 'ok' END, 1000 + g % 5000, 200 + g % 900, g % 20000, g % 3000, 100 + (g::bigint * 7919) % 90000, 500, 'x', 'x'
      FROM generate_series(${start}, ${end}) AS g`);
  }
  await db.query(`INSERT INTO spend_principals (sub, email, name, groups, last_seen)
    SELECT 'user' || u, 'user' || u || '@example.com', 'User ' || u, jsonb_build_array('team' || (u % 50)), now() FROM generate_series(0, ${USERS - 1}) AS u`);
  for (const sql of REBUILD_SQL.split(';').map((s) => s.trim()).filter(Boolean)) await db.query(sql);
  await db.query('ANALYZE');
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM console_rollup_hourly');
  console.log(`seeded ${ROWS} audit rows, ${USERS} users, ${rows[0]!.n} rollup rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await db.close();
}

async function pages(gw: TestGateway): Promise<void> {
  const secret = gw.config.session.jwt_secret[0]!;
  const cookies = new CookieSigner(secret, false);
  const cookie = `${cookies.session}=${cookies.seal({ sub: 'bench-admin', groups: ['admins'], csrf: 'bench', exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  const targets: [string, string][] = [
    ...NAV.map(([id, , path]) => [id, path] as [string, string]),
    ['users search', '/console/users?q=user42'],
    ['overview 90 days by group', '/console?days=90&by=group&tz=Asia/Kolkata'],
  ];
  const from = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
  const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  console.log('page                          p50 ms   p95 ms   (server time, in-process, 20 runs after 2 warm-ups)');
  for (const [name, url] of targets) {
    const times: number[] = [];
    for (let i = 0; i < 22; i++) {
      const t = performance.now();
      const res = await gw.app.inject({ method: 'GET', url, headers: { cookie } });
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
      if (i >= 2) times.push(performance.now() - t);
    }
    console.log(`${name.padEnd(28)} ${pct(times, 50).toFixed(1).padStart(7)}  ${pct(times, 95).toFixed(1).padStart(7)}`);
  }
  const times: number[] = [];
  for (let i = 0; i < 22; i++) {
    const t = performance.now();
    await gw.app.inject({ method: 'GET', url: `/v1/organizations/reports/spend?from=${from}&to=${to}&group_by=user&tz=Europe/Berlin`, headers: { authorization: `Bearer ${gw.mint({ sub: 'bench-admin', groups: ['admins'] })}` } });
    if (i >= 2) times.push(performance.now() - t);
  }
  console.log(`${'reports/spend 31 d by user'.padEnd(28)} ${pct(times, 50).toFixed(1).padStart(7)}  ${pct(times, 95).toFixed(1).padStart(7)}`);
}

async function cpuPerRequest(gw: TestGateway, n: number): Promise<number> {
  const token = gw.mint({ sub: 'load', groups: ['eng'] });
  const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < n) {
        const r = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
      }
    }),
  );
  const d = process.cpuUsage(before);
  return (d.user + d.system) / n;
}

async function main(): Promise<void> {
  const mock = await startMockAnthropic();
  const big = await createPostgresDatabase();
  const dbs: { drop(): Promise<void> }[] = [big];
  try {
    await seed(big.url);
    const config = (url: string, enabled: boolean) =>
      testConfig({ store: { postgres_url: url }, upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-bench' } }], admin: { admin_groups: ['admins'] }, console: { enabled } });
    const open = async (url: string, enabled: boolean) => startTestGateway({ db: await openPostgres({ url } as never), config: config(url, enabled) });
    const gw = await open(big.url, true);
    await pages(gw);
    await gw.close();
    // Rollup maintenance: console on vs off, fresh databases, alternating rounds.
    const on = await createPostgresDatabase();
    const off = await createPostgresDatabase();
    dbs.push(on, off);
    for (const d of [on, off]) {
      const db = await openPostgres({ url: d.url } as never);
      await migrate(db);
      await db.close();
    }
    const gwOn = await open(on.url, true);
    const gwOff = await open(off.url, false);
    const res = { on: [] as number[], off: [] as number[] };
    await cpuPerRequest(gwOn, 200);
    await cpuPerRequest(gwOff, 200);
    for (let round = 0; round < 3; round++) {
      res.on.push(await cpuPerRequest(gwOn, REQUESTS));
      res.off.push(await cpuPerRequest(gwOff, REQUESTS));
    }
    const med = (xs: number[]) => pct(xs, 50);
    console.log(`CPU per inference request (median of 3 rounds × ${REQUESTS}): console on ${med(res.on).toFixed(0)} µs, off ${med(res.off).toFixed(0)} µs, rollup maintenance ${(med(res.on) - med(res.off)).toFixed(0)} µs = ${(((med(res.on) - med(res.off)) / med(res.off)) * 100).toFixed(1)} %`);
    await gwOn.close();
    await gwOff.close();
  } finally {
    for (const d of dbs) await d.drop().catch(() => {});
    await mock.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

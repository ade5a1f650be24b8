/**
 * One-off measurement of what spend enforcement adds per request: the bundled gateway on real
 * PostgreSQL against the loopback mock, in three set-ups (no `admin:` block; metered but
 * uncapped; hard caps), same load each. Reports req/s, p50/p99 latency and gateway CPU ms/req,
 * and the ratios to the no-admin baseline. Run after `npm run build`:
 *   node --import tsx scripts/measure-spend-overhead.ts [requests] [concurrency]
 */
import { readFileSync } from 'node:fs';
import { SessionTokens } from '../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../test/support/db';
import { startMockAnthropic } from '../test/support/mock-anthropic';
import { startGatewayProcess } from '../test/support/process';
import { TEST_JWT_SECRET } from '../test/support/gateway';

const N = Number(process.argv[2] ?? 2000);
const C = Number(process.argv[3] ?? 8);
const KEY = 'wk-0123456789abcdef0123456789abcdef';

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, clock ticks of 10 ms
}

async function run(label: string, admin: boolean, capped: boolean, mockUrl: string) {
  const pg = await createPostgresDatabase();
  const gw = await startGatewayProcess({
    session: { jwt_secret: TEST_JWT_SECRET },
    store: { postgres_url: pg.url, max_connections: 10 },
    upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mockUrl, auth: { api_key: 'sk' } }],
    ...(admin ? { admin: { write_keys: [{ id: 'ops', key: KEY }] } } : {}),
  });
  try {
    if (capped) {
      await fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'organization' }, amount: '100000000', period: 'daily' }),
      });
    }
    const tokens = Array.from({ length: 16 }, (_, i) => new SessionTokens([TEST_JWT_SECRET], gw.url, 3600).mint({ sub: `bench-${i}`, groups: ['eng'] }).token);
    const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content: 'hello' }] });
    const one = async (i: number) => {
      const t = performance.now();
      const r = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, 'content-type': 'application/json' }, body });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      return performance.now() - t;
    };
    const load = async (n: number) => {
      const lat: number[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: C }, async () => {
        while (next < n) lat.push(await one(next++));
      }));
      return lat.sort((a, b) => a - b);
    };
    await load(300);
    const pid = gw.child.pid!;
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    const lat = await load(N);
    const wall = performance.now() - t0;
    const cpu = cpuMs(pid) - cpu0;
    const r = { label, rps: (N / wall) * 1000, p50: lat[Math.floor(N * 0.5)]!, p99: lat[Math.floor(N * 0.99)]!, cpuPerReq: cpu / N };
    console.log(`${label.padEnd(22)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  gateway CPU ${r.cpuPerReq.toFixed(3)} ms/req`);
    return r;
  } finally {
    await gw.stop('SIGKILL');
    await pg.drop();
  }
}

const mock = await startMockAnthropic();
try {
  const base = await run('no admin (off)', false, false, mock.url);
  const metered = await run('metered, uncapped', true, false, mock.url);
  const capped = await run('hard caps (on)', true, true, mock.url);
  for (const r of [metered, capped]) {
    console.log(`${r.label}: latency p50 ×${(r.p50 / base.p50).toFixed(2)}, p99 ×${(r.p99 / base.p99).toFixed(2)}, CPU/req ×${(r.cpuPerReq / base.cpuPerReq).toFixed(2)}, throughput ×${(r.rps / base.rps).toFixed(2)}`);
  }
} finally {
  await mock.close();
}

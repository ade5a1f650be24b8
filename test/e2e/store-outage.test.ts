/**
 * PostgreSQL restarted and stopped under load (issue 15): three gateway processes (the bundled
 * server) on a PostgreSQL cluster of the test's own, ~600 mixed requests from capped and uncapped
 * callers, `pg_ctl restart -m fast` and then a 10 s stop mid-run. No process exits; every request
 * gets a 2xx or a clear error; every acknowledged request has exactly one audit row and the chains
 * verify; recorded and upstream-billed spend stay within every cap; readiness comes back. Then a
 * replica SIGKILLed during an outage with rows in its spool: the next process replays them.
 *
 * Set TOLLGATE_SERVER_BUNDLE to run the same scenario against another build (the before figures),
 * and TOLLGATE_E2E_NODE_ARGS to pass node flags to the gateway processes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { openPostgres } from '../../gateway-server/src/store/postgres';
import type { Db } from '../../gateway-server/src/store/db';
import { verifyAudit } from '../../gateway-server/src/audit/verify';
import { startMockAnthropic, sleep, type MockAnthropic } from '../support/mock-anthropic';
import { startGatewayProcess, type GatewayProcess } from '../support/process';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-pg';
import { TEST_JWT_SECRET } from '../support/gateway';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
const CAPPED = ['cap-a', 'cap-b', 'cap-c', 'cap-d'];
const CAP_CENTS = 18n; // 180 000 µ$ a day each: ~39 requests of PRICED, reached before the outage (each caller sends 120)
const CAP_MICROS = CAP_CENTS * 10_000n;
// Mock usage per request: 25 input + 300 output tokens of Sonnet = 75 + 4500 µ$.
const PRICED = 25n * 3n + 300n * 15n;
const TOTAL = 600;

async function until(what: string, fn: () => Promise<boolean>, limit = 6000): Promise<void> {
  for (let i = 0; ; i++) {
    if (await fn().catch(() => false)) return;
    if (i > limit) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

describe('PostgreSQL restarted and stopped under load: three gateway processes (private cluster)', function () {
  this.timeout(600_000);
  let pgc: PrivatePostgres;
  let mock: MockAnthropic;
  let db: Db;
  let spoolDir: string;
  const gws: GatewayProcess[] = [];
  let config: Record<string, unknown>;

  before(async () => {
    pgc = await startPrivatePostgres();
    mock = await startMockAnthropic();
    spoolDir = mkdtempSync(join(tmpdir(), 'tollgate-spool-'));
    config = {
      session: { jwt_secret: TEST_JWT_SECRET },
      // An older build (TOLLGATE_SERVER_BUNDLE) refuses the spool's key at boot.
      store: { postgres_url: pgc.url, max_connections: 10, connect_timeout_seconds: 2, ...(process.env.TOLLGATE_SERVER_BUNDLE ? {} : { spool_dir: spoolDir }) },
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-test' } }],
      admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
    };
    // TOLLGATE_E2E_NODE_ARGS (e.g. --unhandled-rejections=warn): measure an older build with the crash out of the way.
    const nodeArgs = process.env.TOLLGATE_E2E_NODE_ARGS?.split(' ').filter(Boolean);
    gws.push(await startGatewayProcess(config, { nodeArgs }));
    gws.push(...(await Promise.all([startGatewayProcess(config, { nodeArgs }), startGatewayProcess(config, { nodeArgs })])));
    db = await openPostgres({ url: pgc.url, maxConnections: 4, connectTimeoutSeconds: 2 });
  });
  after(async () => {
    for (const g of gws) await g.stop('SIGKILL');
    await db?.close();
    await mock?.close();
    await pgc?.close();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  const mint = (gw: GatewayProcess, sub: string) => new SessionTokens([TEST_JWT_SECRET], gw.url, 3600).mint({ sub, groups: [] }).token;

  it('costs no process, no audit row and no cent over a cap', async () => {
    for (const sub of CAPPED) {
      const r = await fetch(`${gws[0]!.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: sub }, amount: String(CAP_CENTS), period: 'daily' }),
      });
      assert.equal(r.status, 200, await r.text());
    }
    for (const gw of gws) {
      for (const sub of CAPPED) {
        await until(`${gw.url} to learn the cap of ${sub}`, async () => {
          const r = await fetch(`${gw.url}/api/oauth/usage`, { headers: { authorization: `Bearer ${mint(gw, sub)}` } });
          return ((await r.json()) as { limits: unknown[] }).limits.length >= 1;
        });
      }
    }
    const pids = gws.map((g) => g.child.pid);
    mock.defaults = { reply: { inputTokens: 25, outputTokens: 300 }, eventDelayMs: 5 };
    const users = [...CAPPED, 'free-a'];
    const results: { i: number; user: string; status: number; text: string; err?: string }[] = [];
    let next = 0;
    let done = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        const user = users[i % users.length]!;
        const gw = gws[i % gws.length]!;
        try {
          const res = await fetch(`${gw.url}/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${mint(gw, user)}`, 'content-type': 'application/json', 'x-client-request-id': `outage-${i}` },
            body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 400, stream: i % 2 === 0, messages: [{ role: 'user', content: `request ${i} of ${user}` }] }),
          });
          results.push({ i, user, status: res.status, text: await res.text() });
        } catch (err) {
          results.push({ i, user, status: 0, text: '', err: `${(err as Error).message} ${((err as Error).cause as Error | undefined)?.message ?? ''}` });
        }
        done++;
        // Paced so the run spans both faults (a few requests per 100 ms per worker).
        await sleep(60);
      }
    };
    const load = Promise.all(Array.from({ length: 12 }, worker));
    await until('100 requests done', async () => done >= 100);
    await pgc.restart();
    await until('250 requests done', async () => done >= 250);
    await pgc.stop();
    const stoppedAt = Date.now();
    await sleep(10_000); // the outage being simulated, not a bound on anything
    await pgc.start();
    const startedAt = Date.now();
    const readyMs = await Promise.all(
      gws.map(async (g) => {
        // A process that died is reported (and fails the test below), not waited for.
        await until(`${g.url}/readyz 200`, async () => g.child.exitCode !== null || (await fetch(`${g.url}/readyz`)).status === 200);
        return g.child.exitCode !== null ? -1 : Date.now() - startedAt;
      }),
    );
    await load;
    const outageMs = startedAt - stoppedAt;
    const ok = results.filter((r) => r.status === 200);
    const ids = ok.map((r) => `outage-${r.i}`);
    const failedTransport = results.filter((r) => r.status === 0);
    const byStatus: Record<number, number> = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    const audited = async () => Number((await db.query<{ n: string }>('SELECT count(DISTINCT request_id) AS n FROM audit_log WHERE request_id = ANY($1::text[])', [ids])).rows[0]!.n);
    // Bounded waits, so the figures below are printed even for a build that loses rows.
    await until('every spool replayed', async () => readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length === 0, 1500).catch(() => {});
    await until('audit rows of every acknowledged request', async () => (await audited()) === ids.length, 500).catch(() => {});
    const lost = ids.length - (await audited());
    const billed = new Map<string, bigint>();
    for (const req of mock.requests) {
      const m = /request \d+ of ([a-z-]+)/.exec(req.body.toString('utf8'));
      if (m) billed.set(m[1]!, (billed.get(m[1]!) ?? 0n) + PRICED);
    }
    const { rows: counters } = await db.query<{ principal: string; bucket: string; spent_micros: string }>("SELECT principal, bucket, spent_micros FROM spend_counters WHERE bucket LIKE 'd:%'");
    const spend = CAPPED.map((sub) => ({ sub, recorded: BigInt(counters.find((c) => c.principal === sub)?.spent_micros ?? '0'), up: billed.get(sub) ?? 0n }));
    const over = (v: bigint) => (v > CAP_MICROS ? v - CAP_MICROS : 0n);
    // Figures for the closing note (not assertions).
    console.log(
      `      outage figures: statuses ${JSON.stringify(byStatus)}; transport failures ${failedTransport.length}; processes exited ${gws.filter((g) => g.child.exitCode !== null).length}; ` +
        `rows lost ${lost} of ${ids.length}; outage ${outageMs} ms; ready after PostgreSQL start: ${readyMs.join(', ')} ms; ` +
        `overshoot recorded ${spend.reduce((a, x) => a + over(x.recorded), 0n)} µ$, upstream-billed ${spend.reduce((a, x) => a + over(x.up), 0n)} µ$\n      ` +
        spend.map((x) => `${x.sub}: recorded ${x.recorded} µ$, upstream-billed ${x.up} µ$, cap ${CAP_MICROS} µ$`).join('\n      '),
    );

    // No process exited: the same PIDs, still running.
    assert.deepEqual(gws.map((g) => g.child.pid), pids);
    for (const g of gws) assert.equal(g.child.exitCode, null, `a gateway exited:\n${g.output().slice(-2000)}`);

    // Every request: a 2xx or a clear error in the Anthropic envelope (no refused or reset connection).
    assert.deepEqual(failedTransport.map((r) => r.err), [], 'no connection refused or reset');
    for (const r of results.filter((x) => x.status >= 400)) {
      assert.ok([429, 503].includes(r.status), `unexpected status ${r.status}: ${r.text}`);
      const body = JSON.parse(r.text) as { type: string; error: { type: string; message: string } };
      assert.equal(body.type, 'error');
      assert.ok(body.error.message.length > 10, body.error.message);
    }
    assert.ok(ok.length > 0);
    assert.ok(results.some((r) => r.status === 429), 'caps at the edge: some callers reached theirs');

    // Every acknowledged request: exactly one audit row, once the spools are replayed.
    assert.equal(lost, 0, 'every acknowledged request has its audit row');
    const { rows: dup } = await db.query<{ request_id: string; n: string }>('SELECT request_id, count(*) AS n FROM audit_log WHERE request_id = ANY($1::text[]) GROUP BY request_id HAVING count(*) > 1', [ids]);
    assert.deepEqual(dup, [], 'no request recorded twice');
    const report = await verifyAudit(db);
    assert.equal(report.ok, true, JSON.stringify(report.breaks));

    // Zero overshoot: recorded spend (counters) and upstream-billed spend (what reached the mock) within every cap.
    for (const x of spend) {
      assert.ok(x.recorded <= CAP_MICROS, `recorded spend of ${x.sub} over the cap: ${x.recorded}`);
      assert.ok(x.up <= CAP_MICROS, `upstream-billed spend of ${x.sub} over the cap: ${x.up}`);
      assert.ok(x.up > 0n, `the upstream billed ${x.sub}'s requests (the oracle reads them)`);
    }
  });

  it('a replica SIGKILLed during an outage with rows in its spool: the next process replays them, nothing lost or doubled', async () => {
    const victim = await startGatewayProcess(config);
    await pgc.stop();
    const ids: string[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${victim.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${mint(victim, 'free-kill')}`, 'content-type': 'application/json', 'x-client-request-id': `kill-${i}` },
          body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: `kill ${i}` }] }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        await res.text();
        ids.push(`kill-${i}`);
      }
      assert.ok(readdirSync(spoolDir).some((f) => f.endsWith('.spool')), 'the victim spooled its rows');
      await victim.stop('SIGKILL');
    } finally {
      await pgc.start();
    }
    // A new process on the same spool folder adopts the dead one's spool.
    const heir = await startGatewayProcess(config);
    gws.push(heir);
    await until('the dead replica\'s rows', async () => {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE request_id = ANY($1::text[])', [ids]);
      return Number(rows[0]!.n) >= ids.length;
    });
    await until('the spool folder emptied', async () => readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length === 0);
    const { rows } = await db.query<{ request_id: string; n: string }>('SELECT request_id, count(*) AS n FROM audit_log WHERE request_id = ANY($1::text[]) GROUP BY request_id', [ids]);
    assert.equal(rows.length, ids.length);
    assert.ok(rows.every((r) => r.n === '1'), 'no row doubled');
    const { rows: ledger } = await db.query<{ n: string }>('SELECT count(*) AS n FROM spend_ledger WHERE request_id = ANY($1::text[])', [ids]);
    assert.equal(ledger[0]!.n, String(ids.length), 'their charges replayed once each');
    const report = await verifyAudit(db);
    assert.equal(report.ok, true, JSON.stringify(report.breaks));
  });
});

/**
 * Store outages (issue 15), in process, against a PostgreSQL cluster of the test's own (so the
 * machine's shared server is never stopped): audit rows spooled while PostgreSQL is down are
 * replayed exactly once with a valid chain, spend settlements with them; caps stay hard.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-pg';
import { openPostgres } from '../../gateway-server/src/store/postgres';
import { migrate } from '../../gateway-server/src/store/migrate';
import type { Db } from '../../gateway-server/src/store/db';
import { verifyAudit } from '../../gateway-server/src/audit/verify';
import { replayFile } from '../../gateway-server/src/audit/spool';
import { INSERT_SQL } from '../../gateway-server/src/audit/writer';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';

async function until(what: string, fn: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; ; i++) {
    if (await fn()) return;
    if (i > 6000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('store outage: audit spool and hard caps (private PostgreSQL)', function () {
  this.timeout(300_000);
  let pgc: PrivatePostgres;
  let mock: MockAnthropic;
  let db: Db;
  let check: Db;
  let gw: TestGateway;
  let spoolDir: string;

  before(async () => {
    pgc = await startPrivatePostgres();
    mock = await startMockAnthropic();
    db = await openPostgres({ url: pgc.url, maxConnections: 10, connectTimeoutSeconds: 2 });
    await migrate(db);
    check = await openPostgres({ url: pgc.url, maxConnections: 2, connectTimeoutSeconds: 2 });
    spoolDir = mkdtempSync(join(tmpdir(), 'tollgate-spool-'));
    const config = testConfig({
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      store: { postgres_url: pgc.url, spool_dir: spoolDir },
    });
    gw = await startTestGateway({ config, db });
  });
  after(async () => {
    await gw?.close();
    await db?.close();
    await check?.close();
    await mock?.close();
    await pgc?.close();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  const ask = (sub: string) =>
    fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.mint({ sub })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('spools rows while PostgreSQL is stopped, replays them once it is back: one row per request, chain valid, spend exact', async () => {
    const r0 = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: 'capped' }, amount: '100', period: 'daily' }),
    });
    assert.equal(r0.status, 200);
    const ids: string[] = [];
    const send = async (sub: string) => {
      const r = await ask(sub);
      const text = await r.text();
      return { status: r.status, id: r.headers.get('request-id'), text };
    };
    // Before: healthy, and the capped user's replica leases a slice.
    for (const sub of ['free', 'capped']) {
      const r = await send(sub);
      assert.equal(r.status, 200, r.text);
      ids.push(r.id!);
    }
    await pgc.stop();
    const during: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await send(i % 2 ? 'capped' : 'free');
      during.push(r.status);
      if (r.status === 200) ids.push(r.id!);
      else assert.equal(r.status, 503, r.text);
    }
    assert.ok(during.filter((s) => s === 200).length >= 10, `uncapped requests are served during the outage: ${during}`);
    const spool = gw.app.gateway.db.health;
    assert.equal(spool?.reachable, false);
    const files = readdirSync(spoolDir).filter((f) => f.endsWith('.spool'));
    assert.equal(files.length, 1, 'one spool file for this process');
    const { statSync } = await import('node:fs');
    const served = during.filter((s) => s === 200).length;
    // For docs/operations.md ("how long the spool lasts"): bytes per spooled request.
    console.log(`      spool: ${statSync(join(spoolDir, files[0]!)).size} bytes for ${served} requests`);

    await pgc.start();
    await until('the audit rows of every acknowledged request', async () => {
      const { rows } = await check.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE request_id = ANY($1::text[])', [ids]).catch(() => ({ rows: [{ n: '0' }] }));
      return Number(rows[0]!.n) >= ids.length && readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length === 0;
    });
    const { rows } = await check.query<{ request_id: string; n: string }>('SELECT request_id, count(*) AS n FROM audit_log WHERE request_id = ANY($1::text[]) GROUP BY request_id', [ids]);
    assert.equal(rows.length, ids.length);
    assert.ok(rows.every((r) => r.n === '1'), 'exactly one row per acknowledged request');
    const report = await verifyAudit(check);
    assert.equal(report.ok, true, JSON.stringify(report.breaks));
    // Every 200 was charged exactly once: ledger rows per request id, counters equal their sum.
    const ledger = await check.query<{ request_id: string; n: string }>("SELECT request_id, count(*) AS n FROM spend_ledger WHERE request_id = ANY($1::text[]) AND id NOT LIKE '%:forfeit' GROUP BY request_id", [ids]);
    assert.equal(ledger.rows.length, ids.length, 'one ledger row per served request');
    assert.ok(ledger.rows.every((r) => r.n === '1'));
    const sums = await check.query<{ principal: string; spent: string; ledger: string }>(
      `SELECT c.principal, c.spent_micros AS spent, (SELECT sum(cost_micros) FROM spend_ledger l WHERE l.principal = c.principal) AS ledger
       FROM spend_counters c WHERE c.bucket LIKE 'd:%'`,
    );
    for (const s of sums.rows) assert.equal(s.spent, s.ledger, `counters match the ledger for ${s.principal}`);

    // Replaying the same records again changes nothing (exactly once).
    const n = await check.query<{ n: string }>('SELECT count(*) AS n FROM audit_log');
    const replays = await check.query<{ n: string }>('SELECT count(*) AS n FROM tollgate_audit_replay');
    assert.ok(Number(replays.rows[0]!.n) >= 1, 'the replay recorded its records');
    assert.equal((await check.query<{ n: string }>('SELECT count(*) AS n FROM audit_log')).rows[0]!.n, n.rows[0]!.n);
  });

  it('a full spool refuses new requests with 503 AUDIT_SPOOL_FULL; readiness stays 200 within store.readiness_grace_seconds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-spool-'));
    const small = await startTestGateway({
      config: testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        store: { postgres_url: pgc.url, spool_dir: dir, spool_max_bytes: 4096, readiness_grace_seconds: 3600 },
      }),
      db,
    });
    await pgc.stop();
    try {
      const statuses: number[] = [];
      let refusal: { error: { message: string } } | undefined;
      for (let i = 0; i < 10 && !refusal; i++) {
        const r = await fetch(`${small.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${small.mint({ sub: 'free' })}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
        });
        statuses.push(r.status);
        if (r.status === 503) refusal = (await r.json()) as { error: { message: string } };
        else await r.text();
      }
      assert.ok(statuses.filter((s) => s === 200).length >= 1, `some requests spooled before it filled: ${statuses}`);
      assert.ok(refusal, `refused once full: ${statuses}`);
      assert.match(refusal.error.message, /audit spool full/);
      const ready = await fetch(`${small.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.match(await ready.text(), /within store.readiness_grace_seconds/);
    } finally {
      await pgc.start();
    }
    await until('the small spool replayed', async () => readdirSync(dir).filter((f) => f.endsWith('.spool')).length === 0);
    await small.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a spool file replayed twice (a replica killed mid-replay) applies each record once', async () => {
    const { writeFileSync } = await import('node:fs');
    const path = join(spoolDir, 'twice.spool');
    const row = { chain: 'test/1/twice', seq: '1', at: new Date().toISOString(), event: 'inference', outcome: 'ok', prev_hash: 'x', hash: 'y' };
    const settle = `SELECT 1`;
    writeFileSync(path, `${JSON.stringify({ id: 'rec-twice-1', rows: JSON.stringify([row]), carried: [settle] })}\n{"torn`);
    assert.equal(await replayFile(check, path, INSERT_SQL), 1);
    assert.equal(await replayFile(check, path, INSERT_SQL), 1);
    const { rows } = await check.query<{ n: string }>("SELECT count(*) AS n FROM audit_log WHERE chain = 'test/1/twice'");
    assert.equal(rows[0]!.n, '1');
    rmSync(path);
    await check.query("DELETE FROM audit_log WHERE chain = 'test/1/twice'");
  });
});

/**
 * Reports API over the console's hourly rollups, on real PostgreSQL and on PGlite. The oracle is
 * an independent SQL aggregate over audit_log for the same range, zone and bucket: every bucket ×
 * key must match to the token and the micro-dollar, for ranges that start and end mid-hour and day
 * buckets in whole-hour, half-hour and negative half-hour zones. Rows arrive through the real
 * audit writer (the gateway's own inference requests and a second writer as a replica would),
 * and through a run with `console.enabled: false`, whose rows the next boot rebuilds.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { AuditWriter } from '../../gateway-server/src/audit/writer';
import type { AuditContent } from '../../gateway-server/src/audit/record';
import { REBUILD_SQL, rollupSql, TIERS } from '../../gateway-server/src/console/rollup';
import { activeUsers, userLeaders } from '../../gateway-server/src/console/reports';

const WRITE_KEY = 'wk-reports-0123456789abcdef0123456789ab';
const READ_KEY = 'rk-reports-0123456789abcdef0123456789ab';
const METRICS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_micros'] as const;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.parse('2026-11-01T00:00:00Z');
const GROUPS = [['eng'], ['eng', 'ml'], [], ['finops']];
const OUTCOMES = ['ok', 'ok', 'ok', 'upstream_error', 'blocked_spend', 'upstream_cut'];

function seedRows(n: number, seed: number): AuditContent[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const num = (max: number) => (r() < 0.1 ? null : String(Math.floor(r() * max)));
  return Array.from({ length: n }, (_, i) => {
    const user = `u${Math.floor(r() * 12)}`;
    const inference = r() < 0.9;
    return {
      at: new Date(T0 + Math.floor(r() * 5 * 86_400_000)),
      event: inference ? 'inference' : 'session.mint',
      request_id: `req_seed_${seed}_${i}`,
      sub: user,
      email: `${user}@example.com`,
      groups: pick(GROUPS),
      actor: null,
      surface: 'claude_code',
      session_id: null,
      model: inference ? pick(['claude-sonnet-4-6', 'claude-opus-4-5', 'claude-haiku-4-5']) : null,
      upstream: inference ? pick(['anthropic', 'bedrock']) : null,
      status: inference ? 200 : null,
      outcome: inference ? pick(OUTCOMES) : 'ok',
      reason: null,
      input_tokens: inference ? num(50_000) : null,
      output_tokens: inference ? num(8_000) : null,
      cache_read_tokens: inference ? num(200_000) : null,
      cache_creation_tokens: inference ? num(30_000) : null,
      cost_micros: inference ? num(2_000_000) : null,
      latency_ms: 10,
      detail: null,
    };
  });
}

interface Case {
  from: string;
  to: string;
  tz: string;
  bucket: 'day' | 'week' | 'month' | 'none';
  group_by: 'user' | 'group' | 'model' | 'upstream';
}

const ORACLE_KEY: Record<Case['group_by'], string> = { user: 'a.sub', model: 'a.model', upstream: 'a.upstream', group: 'g.name' };

/** The same report straight from audit_log: bucket|key → metrics. */
async function oracle(tdb: TestDatabase, c: Case, from: string, to: string): Promise<Map<string, Record<string, string>>> {
  const bucket = c.bucket === 'none' ? 'NULL::text' : `to_char(date_trunc('${c.bucket}', a.at AT TIME ZONE $3::text), 'YYYY-MM-DD')`;
  const join = c.group_by === 'group' ? `CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN coalesce(jsonb_array_length(a.groups), 0) = 0 THEN '[null]'::jsonb ELSE a.groups END) g(name)` : '';
  const { rows } = await tdb.db.query<Record<string, string | null>>(
    `SELECT ${bucket} AS bucket, ${ORACLE_KEY[c.group_by]} AS key, count(*)::text AS requests,
       count(*) FILTER (WHERE a.outcome IN ('upstream_error', 'upstream_cut', 'error'))::text AS errors,
       coalesce(sum(a.input_tokens), 0)::text AS input_tokens, coalesce(sum(a.output_tokens), 0)::text AS output_tokens,
       coalesce(sum(a.cache_creation_tokens), 0)::text AS cache_write_tokens, coalesce(sum(a.cache_read_tokens), 0)::text AS cache_read_tokens,
       coalesce(sum(a.cost_micros), 0)::text AS cost_micros
     FROM audit_log a ${join}
     WHERE a.event = 'inference' AND a.at >= $1::timestamptz AND a.at < $2::timestamptz AND $3::text IS NOT NULL
     GROUP BY 1, 2`,
    [from, to, c.tz],
  );
  return new Map(rows.map((r) => [`${r.bucket}|${r.key}`, Object.fromEntries(METRICS.map((m) => [m, r[m]!]))]));
}

for (const kind of storeKinds()) {
  describe(`Reports API over console rollups (${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    const admin = { write_keys: [{ id: 'w', key: WRITE_KEY }], read_keys: [{ id: 'r', key: READ_KEY }], admin_groups: ['admins'], viewer_groups: ['finops'] };
    const config = (extra: Record<string, unknown> = {}) =>
      testConfig({ upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }], admin, ...extra });
    const ask = (g: TestGateway, sub: string) =>
      fetch(`${g.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${g.mint({ sub, groups: ['eng'] })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const report = async (kindName: 'spend' | 'usage', params: Record<string, string>, headers: Record<string, string> = { 'x-api-key': READ_KEY }) =>
      fetch(`${gw.url}/v1/organizations/reports/${kindName}?${new URLSearchParams(params)}`, { headers });

    before(async function () {
      this.timeout(180_000);
      mock = await startMockAnthropic();
      tdb = await createTestDatabase(kind);
      // A run with the console off: its rows are not rolled up, and the flag says so.
      const off = await startTestGateway({ db: tdb.db, config: config({ console: { enabled: false } }) });
      for (const sub of ['off-1', 'off-2']) assert.equal((await ask(off, sub)).status, 200);
      assert.equal((await off.app.inject({ url: '/v1/organizations/reports/spend?from=2026-11-01&to=2026-11-02', headers: { 'x-api-key': READ_KEY } })).statusCode, 404);
      await off.close();
      const { rows } = await tdb.db.query<{ current: boolean }>('SELECT current FROM console_rollup_state');
      assert.equal(rows[0]!.current, false);
      gw = await startTestGateway({ db: tdb.db, config: config() });
      // A second writer, as another replica's: batches of many rows, each with its rollup upsert.
      const replica = new AuditWriter(tdb.db);
      replica.deriveWith(rollupSql);
      for (const seed of [1, 2, 3]) await Promise.all(seedRows(700, seed).map((c) => replica.append(c)));
      await replica.close();
      for (const sub of ['on-1', 'on-2', 'on-1']) assert.equal((await ask(gw, sub)).status, 200);
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });

    it('every tier at every grain holds exactly what the audit log holds (the console-off run rebuilt at boot)', async () => {
      const audit = (
        await tdb.db.query<{ n: string; c: string; gn: string; gc: string }>(
          `SELECT count(*)::text AS n, coalesce(sum(cost_micros), 0)::text AS c,
             sum(greatest(coalesce(jsonb_array_length(groups), 0), 1))::text AS gn,
             coalesce(sum(cost_micros * greatest(coalesce(jsonb_array_length(groups), 0), 1)), 0)::text AS gc
           FROM audit_log WHERE event = 'inference'`,
        )
      ).rows[0]!;
      assert.ok(Number(audit.n) > 1800, `seeded inference rows: ${audit.n}`);
      for (const tier of Object.values(TIERS)) {
        const { rows } = await tdb.db.query<{ grain: number; n: string; c: string }>(
          `SELECT grain, sum(requests)::text AS n, sum(cost_micros)::text AS c FROM ${tier.table} GROUP BY grain ORDER BY grain`,
        );
        // The group tier counts a request once per group of its user (once under '' for none).
        const [n, c] = tier === TIERS.group ? [audit.gn, audit.gc] : [audit.n, audit.c];
        assert.deepEqual(rows.map((r) => [Number(r.grain), r.n, r.c]), tier.grains.map((g) => [g, n, c]), tier.table);
      }
      const offAudit = await tdb.db.query(`SELECT sub FROM audit_log WHERE sub IN ('off-1', 'off-2')`);
      assert.equal(offAudit.rows.length, 2, JSON.stringify(offAudit.rows));
      const offRows = await tdb.db.query<{ grain: number }>(`SELECT grain FROM console_rollup_user WHERE sub IN ('off-1', 'off-2') ORDER BY grain`);
      assert.deepEqual(offRows.rows.map((r) => Number(r.grain)), [60, 60, 1440, 1440, 10080, 10080]);
    });

    const now = new Date();
    const CASES: Case[] = [
      { from: '2026-10-31', to: '2026-11-07', tz: 'UTC', bucket: 'day', group_by: 'user' },
      { from: '2026-11-01', to: '2026-11-05', tz: 'Europe/Berlin', bucket: 'day', group_by: 'group' },
      { from: '2026-11-01', to: '2026-11-06', tz: 'Asia/Kolkata', bucket: 'day', group_by: 'model' },
      { from: '2026-10-30', to: '2026-11-08', tz: 'America/St_Johns', bucket: 'week', group_by: 'upstream' },
      { from: '2026-11-01T10:17:23.456Z', to: '2026-11-03T05:42:00.001Z', tz: 'UTC', bucket: 'day', group_by: 'user' },
      { from: '2026-11-01T10:17:23.456+05:30', to: '2026-11-04T23:59:59.999Z', tz: 'Asia/Kolkata', bucket: 'none', group_by: 'group' },
      { from: '2026-11-02T03:30:00Z', to: '2026-11-05T21:10:00Z', tz: 'Australia/Adelaide', bucket: 'month', group_by: 'user' },
      { from: new Date(now.getTime() - 3_600_000).toISOString(), to: new Date(now.getTime() + 3_600_000).toISOString(), tz: 'Pacific/Chatham', bucket: 'day', group_by: 'user' },
      // The smaller tiers and the per-user one across half-hour, 45-minute and DST days, mid-hour starts.
      { from: '2026-10-31', to: '2026-11-04', tz: 'America/New_York', bucket: 'day', group_by: 'model' },
      { from: '2026-11-01T07:45:10.5Z', to: '2026-11-05T13:07:00Z', tz: 'Asia/Kolkata', bucket: 'day', group_by: 'model' },
      { from: '2026-11-01T02:59:59.999Z', to: '2026-11-06', tz: 'Asia/Kathmandu', bucket: 'day', group_by: 'group' },
      { from: '2026-10-29', to: '2026-11-09', tz: 'Pacific/Chatham', bucket: 'week', group_by: 'group' },
      { from: '2026-11-01T00:15:00Z', to: '2026-11-05T23:45:00Z', tz: 'Asia/Kolkata', bucket: 'day', group_by: 'user' },
      { from: '2026-11-01T18:31:00+05:30', to: '2026-11-04T18:29:00+05:30', tz: 'Asia/Kolkata', bucket: 'none', group_by: 'upstream' },
      { from: '2026-10-01', to: '2026-12-31', tz: 'Europe/Berlin', bucket: 'month', group_by: 'group' },
    ];
    for (const c of CASES) {
      it(`usage ${c.group_by} by ${c.bucket} in ${c.tz} from ${c.from} to ${c.to} equals the SQL aggregate over audit_log`, async () => {
        const res = await report('usage', { ...c });
        assert.equal(res.status, 200, await res.clone().text());
        const body = (await res.json()) as { from: string; to: string; data: Record<string, string | null>[]; totals: Record<string, string> };
        const expected = await oracle(tdb, c, body.from, body.to);
        assert.ok(expected.size > 0, 'the range holds rows');
        const got = new Map(body.data.map((r) => [`${r.bucket}|${r.key}`, Object.fromEntries(METRICS.map((m) => [m, r[m]!]))]));
        assert.deepEqual(got, expected);
        const total = [...expected.values()].reduce((s, r) => s + BigInt(r.cost_micros!), 0n);
        assert.equal(body.totals.cost_micros, total.toString());
      });
    }

    it('a rebuild from the audit log makes exactly the tiers the write path made', async () => {
      const snapshot = async () => {
        const out: Record<string, unknown[]> = {};
        for (const table of [...Object.values(TIERS).map((t) => t.table), 'console_user_last_seen']) {
          out[table] = (await tdb.db.query(`SELECT * FROM ${table} ORDER BY ${table === 'console_user_last_seen' ? '1' : table === 'console_rollup_mu' ? '1, 2, 3, 4' : '1, 2, 3'}`)).rows.map((r) => JSON.stringify(r));
        }
        return out;
      };
      const before = await snapshot();
      assert.ok(before.console_rollup_user!.length > 100);
      for (const sql of REBUILD_SQL.split(';').map((x) => x.trim()).filter(Boolean)) await tdb.db.query(sql);
      assert.deepEqual(await snapshot(), before);
    });

    it('active users and top spenders over a range equal the audit log', async () => {
      // 05:00: cheaper from the per-user tier as that UTC day less five hours (signed blocks).
      const from = new Date('2026-11-01T05:00:00Z');
      const to = new Date(Date.now() + 86_400_000);
      const { rows } = await tdb.db.query<{ sub: string; c: string }>(
        `SELECT sub, sum(coalesce(cost_micros, 0))::text AS c FROM audit_log WHERE event = 'inference' AND at >= $1 AND at < $2 AND coalesce(sub, '') <> '' GROUP BY sub`,
        [from.toISOString(), to.toISOString()],
      );
      const ranked = rows.sort((x, y) => (BigInt(y.c) > BigInt(x.c) ? 1 : BigInt(y.c) < BigInt(x.c) ? -1 : x.sub < y.sub ? -1 : 1)).map((r) => r.sub);
      assert.ok(ranked.length >= 12, `users: ${ranked.length}`);
      assert.deepEqual(await userLeaders(tdb.db, from, to, 3), { active: ranked.length, top: ranked.slice(0, 3) });
      // Mid-hour edges: the per-user tier's hours plus audit rows.
      const midFrom = new Date('2026-11-02T10:17:23.456Z');
      const midTo = new Date('2026-11-04T05:42:00.001Z');
      const mid = await tdb.db.query<{ n: string }>(
        `SELECT count(DISTINCT sub)::text AS n FROM audit_log WHERE event = 'inference' AND at >= $1 AND at < $2 AND coalesce(sub, '') <> ''`,
        [midFrom.toISOString(), midTo.toISOString()],
      );
      assert.equal((await userLeaders(tdb.db, midFrom, midTo, 1)).active, Number(mid.rows[0]!.n));
      // The last-seen table answers for ranges that end after every row, and only for those.
      assert.equal(await activeUsers(tdb.db, from, to), ranked.length);
      assert.equal(await activeUsers(tdb.db, from, new Date('2026-11-03T00:00:00Z')), undefined);
      assert.equal(await activeUsers(tdb.db, midFrom, to), undefined);
    });

    it('dates are local midnights in tz; spend rows carry exact dollars', async () => {
      const res = await report('spend', { from: '2026-11-02', to: '2026-11-03', tz: 'Asia/Kolkata', group_by: 'model' });
      const body = (await res.json()) as { from: string; to: string; data: { cost_micros: string; cost_usd: string }[] };
      assert.equal(body.from, '2026-11-01T18:30:00.000Z');
      assert.equal(body.to, '2026-11-02T18:30:00.000Z');
      for (const r of body.data) assert.equal(Math.round(Number(r.cost_usd) * 1e6), Number(r.cost_micros));
    });

    it('CSV by format=csv or Accept: text/csv, the same rows as JSON', async () => {
      const params = { from: '2026-11-01', to: '2026-11-04', tz: 'Europe/Berlin', group_by: 'user' };
      const json = (await (await report('spend', params)).json()) as { data: Record<string, string | null>[] };
      for (const res of [await report('spend', { ...params, format: 'csv' }), await report('spend', params, { 'x-api-key': READ_KEY, accept: 'text/csv' })]) {
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
        const lines = (await res.text()).trim().split('\r\n');
        assert.equal(lines[0], 'bucket,key,requests,cost_micros,cost_usd');
        assert.deepEqual(lines.slice(1), json.data.map((r) => [r.bucket, r.key, r.requests, r.cost_micros, r.cost_usd].join(',')));
      }
    });

    it('admin keys, admin_groups and viewer_groups may read; viewers may not write; others are refused', async () => {
      const params = { from: '2026-11-01', to: '2026-11-02' };
      const bearer = (groups: string[]) => ({ authorization: `Bearer ${gw.mint({ sub: `who-${groups.join('-')}`, groups })}` });
      assert.equal((await report('spend', params, { 'x-api-key': WRITE_KEY })).status, 200);
      assert.equal((await report('spend', params, bearer(['admins']))).status, 200);
      assert.equal((await report('usage', params, bearer(['finops']))).status, 200);
      const denied = await report('spend', params, bearer(['eng']));
      assert.equal(denied.status, 403);
      assert.match(((await denied.json()) as { error: { message: string } }).error.message, /viewer_groups/);
      assert.equal((await report('spend', params, {})).status, 401);
      const write = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { ...bearer(['finops']), 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'organization' }, amount: '100', period: 'daily' }),
      });
      assert.equal(write.status, 403);
      assert.match(((await write.json()) as { error: { message: string } }).error.message, /read-only admin access \(admin\.viewer_groups\)/);
      const { rows } = await tdb.db.query<{ reason: string }>(`SELECT reason FROM audit_log WHERE event = 'admin.denied' AND reason = 'viewer_group'`);
      assert.equal(rows.length, 1);
    });

    it('bad parameters get a 400 that says what to send', async () => {
      const cases: [Record<string, string>, RegExp][] = [
        [{ from: '2026-11-01', to: '2026-11-02', tz: 'Mars/Olympus' }, /IANA time zone/],
        [{ from: '2026-11-03', to: '2026-11-02' }, /`from` must be before `to`/],
        [{ from: '2026-11-01T10:00:00', to: '2026-11-02' }, /with a zone/],
        [{ from: '2024-01-01', to: '2026-11-02' }, /at most 400 days/],
        [{ from: '2026-11-01', to: '2026-11-02', group_by: 'team' }, /group_by/],
        [{ from: '2026-11-01', to: '2026-11-02', limit: '5' }, /unknown parameter limit/],
        [{ to: '2026-11-02' }, /from/],
      ];
      for (const [params, message] of cases) {
        const res = await report('usage', params);
        assert.equal(res.status, 400, JSON.stringify(params));
        const body = (await res.json()) as { type: string; error: { type: string; message: string } };
        assert.equal(body.error.type, 'invalid_request_error');
        assert.match(body.error.message, message);
      }
    });
  });
}

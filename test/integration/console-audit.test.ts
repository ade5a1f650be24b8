/**
 * The console's Audit and Users pages and its session cookie, without a browser (the e2e suite
 * drives Chromium): audit filters against an independent SQL query, streamed JSONL and CSV
 * exports of more than 1000 rows against the SQL rows, the chain badge over a range with a
 * tampered row, each user's sessions, and a console cookie refused on two replicas as soon as
 * its user is revoked (console action or Admin API) or it is signed out. Real IdP, real audit
 * writer, PostgreSQL (two gateways, two connection pools) and PGlite.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { consoleSignIn, startGatewayWithIdp, startTestIdp, type CookieJar, type TestIdp, completeDeviceSignIn } from '../support/test-idp';
import { freePort } from '../support/process';
import { waitFor } from '../support/wait';
import { parseCsv } from '../support/csv';
import { openPostgres } from '../../gateway-server/src/store/postgres';
import { AuditWriter } from '../../gateway-server/src/audit/writer';
import type { AuditContent } from '../../gateway-server/src/audit/record';
import { auditWhere } from '../../gateway-server/src/audit/query';
import type { Db } from '../../gateway-server/src/store/db';
import { DEVICE_CODE_GRANT } from '../../gateway-server/src/protocol/oauth';

const WRITE_KEY = 'admin-write-key-0123456789abcdef0123456789';
const USERS = [
  { login: 'alice', email: 'alice@example.com', name: 'Alice Admin', groups: ['platform-admins'] },
  { login: 'dora', email: 'dora@example.com', name: 'Dora Admin', groups: ['platform-admins'] },
  { login: 'fiona', email: 'fiona@example.com', name: 'Fiona Finops', groups: ['finops'] },
  { login: 'erin', email: 'erin@example.com', name: 'Erin Dev', groups: ['engineering'] },
];
const SEED_ROWS = 1500;
const T0 = Date.parse('2026-11-02T08:00:00.000Z');
/** Seeded rows: 5 users, 2 models, 2 upstreams, 3 outcomes, one every 7 s from T0; some reasons need CSV quoting. */
function seedContent(i: number): AuditContent {
  const outcome = i % 11 === 0 ? 'blocked_spend' : i % 7 === 0 ? 'upstream_error' : 'ok';
  return {
    at: new Date(T0 + i * 7000 + (i % 3)), event: 'inference', request_id: `req-${i}`, sub: `u${i % 5}`, email: `u${i % 5}@example.com`, groups: ['engineering'],
    actor: null, surface: 'claude_code', session_id: null, model: i % 2 ? 'claude-sonnet-4-6' : 'claude-haiku-4-5', upstream: i % 3 ? 'anthropic' : 'backup', status: outcome === 'ok' ? 200 : 429,
    outcome, reason: i % 13 === 0 ? `refused, "quoted"\nsecond line ${i}` : null, input_tokens: String(10 + i), output_tokens: String(i % 50), cache_read_tokens: '0', cache_creation_tokens: '0',
    cost_micros: String(100 + i), latency_ms: 5, detail: { operation: 'messages' },
  };
}

const ids = (html: string) => [...html.matchAll(/<tr data-id="(\d+)"/g)].map((m) => m[1]!);
const attr = (html: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(html)?.[1];
const unescape = (s: string) => s.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'");

for (const kind of storeKinds()) {
  describe(`console: audit filters, exports, chain badge, sessions, cookie revocation (${kind})`, function () {
    this.timeout(120_000);
    let tdb: TestDatabase;
    let mock: MockAnthropic;
    let db2: Db | undefined;
    let idp: TestIdp;
    let gw: Awaited<ReturnType<typeof startGatewayWithIdp>>;
    let gw2: Awaited<ReturnType<typeof startGatewayWithIdp>>;
    let alice: CookieJar;

    before(async function () {
      this.timeout(180_000);
      tdb = await createTestDatabase(kind);
      mock = await startMockAnthropic();
      const [port, port2] = [await freePort(), await freePort()];
      idp = await startTestIdp({ redirectUris: [`http://127.0.0.1:${port}/oauth/callback`, `http://127.0.0.1:${port}/console/callback`], users: USERS });
      const config = {
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }], admin_groups: ['platform-admins'], viewer_groups: ['finops'] },
        console: { enabled: true },
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        rate_limits: { device_authorization: { max: 1000, window_seconds: 600 }, device_verify: { max: 1000, window_seconds: 600 } },
      };
      gw = await startGatewayWithIdp({ db: tdb.db, idp, port, config });
      // The second replica has its own pool on PostgreSQL (revocations reach it by NOTIFY); PGlite is in-process.
      db2 = kind === 'postgres' ? await openPostgres({ url: tdb.url!, maxConnections: 5, connectTimeoutSeconds: 5 }) : undefined;
      gw2 = await startGatewayWithIdp({ db: db2 ?? tdb.db, idp, port: port2, publicUrl: gw.url, config });
      const writer = new AuditWriter(tdb.db, 'seed/1');
      await Promise.all(Array.from({ length: SEED_ROWS }, (_, i) => writer.append(seedContent(i))));
      alice = (await consoleSignIn(gw.url, 'alice')).jar;
    });
    after(async () => {
      await gw2?.close();
      await gw?.close();
      await db2?.close();
      await idp?.close();
      await tdb?.drop();
      await mock?.close();
    });

    const get = async (path: string, cookie: string | undefined, base = gw.url) => {
      const res = await fetch(`${base}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type') ?? '', text: await res.text() };
    };
    const cookieOf = (jar: CookieJar) => jar.header(gw.url)!;
    const post = async (path: string, jar: CookieJar, fields: Record<string, string>) => {
      const page = await get('/console/users', cookieOf(jar));
      const csrf = attr(page.text, 'name="csrf" value');
      assert.ok(csrf, 'a CSRF token on the page');
      const res = await fetch(`${gw.url}${path}`, {
        method: 'POST', redirect: 'manual',
        headers: { cookie: cookieOf(jar), 'content-type': 'application/x-www-form-urlencoded', origin: gw.url, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ ...fields, csrf }).toString(),
      });
      return { status: res.status, text: await res.text() };
    };

    const since = new Date(T0 + 200 * 7000).toISOString();
    const until = new Date(T0 + 1400 * 7000).toISOString();
    /** Each filter with the SQL that selects the same rows, written out by hand (the oracle). */
    const CASES: { q: Record<string, string>; sql: string; params: unknown[] }[] = [
      { q: { user_id: 'u3' }, sql: `sub = $1`, params: ['u3'] },
      { q: { outcome: 'blocked_spend' }, sql: `outcome = $1`, params: ['blocked_spend'] },
      { q: { model: 'claude-haiku-4-5', upstream: 'backup' }, sql: `model = $1 AND upstream = $2`, params: ['claude-haiku-4-5', 'backup'] },
      { q: { since, until }, sql: `at >= $1 AND at < $2`, params: [since, until] },
      { q: { user_id: 'u1', outcome: 'ok', model: 'claude-sonnet-4-6', upstream: 'anthropic', event: 'inference', since, until },
        sql: `sub = $1 AND outcome = $2 AND model = $3 AND upstream = $4 AND event = $5 AND at >= $6 AND at < $7`, params: ['u1', 'ok', 'claude-sonnet-4-6', 'anthropic', 'inference', since, until] },
    ];

    it('audit filters, combined and kept in the URL, list exactly the rows an SQL query selects, page after page', async () => {
      for (const c of CASES) {
        const { rows } = await tdb.db.query<{ id: string }>(`SELECT id::text FROM audit_log WHERE ${c.sql} ORDER BY at DESC, id DESC`, c.params);
        assert.ok(rows.length > 0, `case ${JSON.stringify(c.q)} selects rows`);
        const shown: string[] = [];
        let path: string | undefined = `/console/audit?${new URLSearchParams(c.q)}`;
        while (path) {
          const page = await get(path, cookieOf(alice));
          assert.equal(page.status, 200, page.text.slice(0, 500));
          for (const [k, v] of Object.entries(c.q)) assert.ok(page.text.includes(`name="${k}" value="${v}"`), `${k} kept in the form`);
          shown.push(...ids(page.text));
          const next = /<a href="([^"]+)" rel="next">/.exec(page.text)?.[1];
          path = next ? unescape(next) : undefined;
          if (path) for (const [k, v] of Object.entries(c.q)) assert.equal(new URL(path, gw.url).searchParams.get(k), v, `${k} kept in the next page's URL`);
        }
        assert.deepEqual(shown, rows.map((r) => r.id), `case ${JSON.stringify(c.q)}`);
      }
    });

    it('exports more than 1000 rows, streamed, as JSONL and CSV equal to the SQL rows', async () => {
      const q = { since: new Date(T0).toISOString(), until: new Date(T0 + SEED_ROWS * 7000).toISOString(), event: 'inference' };
      const { rows } = await tdb.db.query<Record<string, string | null>>(
        `SELECT id::text, at, sub, model, upstream, outcome, reason, cost_micros::text, input_tokens::text, hash FROM audit_log
         WHERE at >= $1 AND at < $2 AND event = 'inference' ORDER BY at, id`, [q.since, q.until]);
      assert.equal(rows.length, SEED_ROWS);
      const expected = rows.map((r) => ({ id: r.id, at: new Date(r.at!).toISOString(), sub: r.sub, model: r.model, upstream: r.upstream, outcome: r.outcome, reason: r.reason, cost_micros: r.cost_micros, input_tokens: r.input_tokens, hash: r.hash }));

      const jsonl = await get(`/console/audit/export?${new URLSearchParams(q)}&format=jsonl`, cookieOf(alice));
      assert.equal(jsonl.status, 200);
      assert.match(jsonl.type, /application\/x-ndjson/);
      const entries = jsonl.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown> & { principal: { sub: string }; tokens: { input: number } });
      assert.deepEqual(entries.map((e) => ({ id: e.id, at: e.at, sub: e.principal.sub, model: e.model, upstream: e.upstream, outcome: e.outcome, reason: e.reason, cost_micros: e.cost_micros, input_tokens: String(e.tokens.input), hash: e.hash })), expected);

      const csv = await get(`/console/audit/export?${new URLSearchParams(q)}&format=csv`, cookieOf(alice));
      assert.equal(csv.status, 200);
      assert.match(csv.type, /text\/csv/);
      const [header, ...records] = parseCsv(csv.text);
      const col = (name: string) => header!.indexOf(name);
      assert.equal(records.length, SEED_ROWS);
      assert.ok(records.some((r) => r[col('reason')]!.includes('\n')), 'a reason with a line break survives quoting');
      const blank = (v: string) => (v === '' ? null : v);
      assert.deepEqual(records.map((r) => ({ id: r[col('id')], at: r[col('at')], sub: r[col('sub')], model: r[col('model')], upstream: r[col('upstream')], outcome: r[col('outcome')], reason: blank(r[col('reason')]!), cost_micros: r[col('cost_micros')], input_tokens: r[col('input_tokens')], hash: r[col('hash')] })), expected);
    });

    // PostgreSQL only: the planner settings and plan text are PostgreSQL's (PGlite runs the same SQL above).
    if (kind === 'postgres') it('every filter is served by an index (EXPLAIN, sequential scans off)', async function () {
      // The seeded table is small, so the planner may prefer a scan; with scans priced out it must still find an index.
      await tdb.db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        for (const c of CASES) {
          const { where, params } = auditWhere(c.q);
          where.push(`(at, id) < ($${params.push(until)}::timestamptz, $${params.push('999999')}::bigint)`);
          const plan = (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM audit_log WHERE ${where.join(' AND ')} ORDER BY at DESC, id DESC LIMIT 101`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
          assert.doesNotMatch(plan, /Seq Scan/, `${JSON.stringify(c.q)}:\n${plan}`);
          assert.match(plan, /audit_log_(sub_)?at_id/, `${JSON.stringify(c.q)}:\n${plan}`);
        }
      });
    });

    it('the chain badge verifies the selected range on demand, and names the first broken link of a tampered row', async () => {
      const range = `since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`;
      // Oracle: every row of each chain between the first and last sequence number the range holds.
      const { rows: span } = await tdb.db.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM audit_log a JOIN (SELECT chain, min(seq) lo, max(seq) hi FROM audit_log WHERE at >= $1 AND at < $2 GROUP BY chain) s
         ON a.chain = s.chain AND a.seq BETWEEN s.lo AND s.hi`, [since, until]);
      const intact = await get(`/console/audit/verify?${range}`, cookieOf(alice));
      assert.equal(intact.status, 200);
      assert.equal(attr(intact.text, 'data-chain'), 'intact');
      assert.equal(attr(intact.text, 'data-rows'), span[0]!.n);
      const { rows: victim } = await tdb.db.query<{ id: string; cost: string }>(`SELECT id::text, cost_micros::text AS cost FROM audit_log WHERE at >= $1 AND at < $2 AND chain = 'seed/1' ORDER BY seq OFFSET 500 LIMIT 1`, [since, until]);
      const { rows: outside } = await tdb.db.query<{ id: string }>(`SELECT id::text FROM audit_log WHERE at < $1 AND chain = 'seed/1' ORDER BY seq LIMIT 1 OFFSET 10`, [since]);
      try {
        // A change outside the range leaves the range's badge intact (the whole log's is broken).
        await tdb.db.query(`UPDATE audit_log SET cost_micros = cost_micros + 1 WHERE id = $1`, [outside[0]!.id]);
        assert.equal(attr((await get(`/console/audit/verify?${range}`, cookieOf(alice))).text, 'data-chain'), 'intact');
        const whole = await get('/console/audit/verify', cookieOf(alice));
        assert.equal(attr(whole.text, 'data-break-id'), outside[0]!.id);
        await tdb.db.query(`UPDATE audit_log SET cost_micros = cost_micros + 1 WHERE id = $1`, [victim[0]!.id]);
        const broken = await get(`/console/audit/verify?${range}`, cookieOf(alice));
        assert.equal(attr(broken.text, 'data-chain'), 'broken');
        assert.equal(attr(broken.text, 'data-break-id'), victim[0]!.id);
        assert.equal(attr(broken.text, 'data-break-kind'), 'hash_mismatch');
        assert.equal(attr(broken.text, 'data-rows'), span[0]!.n);
        assert.match(broken.text, new RegExp(`First broken link: row <b>${victim[0]!.id}</b>`));
      } finally {
        await tdb.db.query(`UPDATE audit_log SET cost_micros = cost_micros - 1 WHERE id = ANY($1::bigint[])`, [[victim[0]!.id, outside[0]!.id]]);
      }
    });

    it("the Users page lists each user's sessions (client, sign-in, last use, expiry) and last seen", async () => {
      const start = await fetch(`${gw.url}/oauth/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'surface=claude_code' });
      const d = (await start.json()) as { device_code: string; verification_uri_complete: string };
      assert.equal((await completeDeviceSignIn(d.verification_uri_complete, { login: 'erin' })).status, 200);
      const tok = await fetch(`${gw.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: d.device_code }).toString() });
      const { access_token } = (await tok.json()) as { access_token: string };
      const sid = (JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
      const { rows } = await tdb.db.query<{ at: Date }>(`SELECT max(at) AS at FROM audit_log WHERE sub = 'erin'`);
      // People are listed once the spend feature has recorded them (off the request path): poll.
      const row = await waitFor('erin is listed', async () => /<tr data-user="erin">[\s\S]*?<\/tr>/.exec((await get('/console/users?q=erin', cookieOf(alice))).text)?.[0]);
      assert.match(row, new RegExp(`<li data-sid="${sid}" data-state="active"><b>claude_code</b>`));
      assert.ok(row.includes(`<td>${rows[0]!.at.toISOString().slice(0, 16).replace('T', ' ')}</td>`), 'last seen is the latest audit row');
      // alice appears on the Users page once she has made a request; her console sign-in is one of her sessions.
      const { token } = gw.app.gateway.tokens.mint({ sub: 'alice', email: 'alice@example.com', groups: ['platform-admins'] });
      const ask = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }) });
      assert.equal(ask.status, 200, await ask.text());
      const mine = await waitFor('alice is listed', async () => /<tr data-user="alice">[\s\S]*?<\/tr>/.exec((await get('/console/users?q=alice', cookieOf(alice))).text)?.[0]);
      assert.match(mine, /data-state="active"><b>console<\/b>/);
      // Revoked from the page: the session is marked, and its bearer refused.
      assert.equal((await post('/console/users/revoke', alice, { user_id: 'erin' })).status, 200);
      assert.match((await get('/console/users?q=erin', cookieOf(alice))).text, new RegExp(`<li data-sid="${sid}" data-state="revoked">`));
      assert.equal((await fetch(`${gw.url}/v1/organizations/audit?limit=1`, { headers: { authorization: `Bearer ${access_token}` } })).status, 401);
    });

    it("revoking a user ends their console cookie at once, on the other replica as soon as the revocation arrives", async () => {
      const dora = cookieOf((await consoleSignIn(gw.url, 'dora')).jar);
      for (const base of [gw.url, gw2.url]) assert.equal((await get('/console/users', dora, base)).status, 200, base);
      assert.equal((await post('/console/users/revoke', alice, { user_id: 'dora' })).status, 200);
      const here = await get('/console/users', dora);
      assert.equal(here.status, 303);
      assert.match(here.location ?? '', /^\/console\/login/);
      await waitFor('replica 2 refuses the revoked console cookie', async () => (await get('/console/users', dora, gw2.url)).status === 303);
      assert.equal((await get('/console/audit/export?format=jsonl', dora, gw2.url)).status, 303);
      // Through the Admin API too, for a session signed in after the first cut (the cut is whole seconds: poll until one works).
      const again = await waitFor('dora can sign in again after the revocation', async () => {
        const c = cookieOf((await consoleSignIn(gw.url, 'dora')).jar);
        return (await get('/console/users', c)).status === 200 && c;
      }, { intervalMs: 100, attempts: 100 });
      assert.equal((await get('/console/users', again, gw2.url)).status, 200);
      const res = await fetch(`${gw.url}/v1/organizations/users/dora/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 200);
      assert.equal((await get('/console/users', again)).status, 303);
      await waitFor('replica 2 refuses the cookie revoked through the Admin API', async () => (await get('/console/users', again, gw2.url)).status === 303);
    });

    it('a signed-out console cookie cannot be replayed, on either replica', async () => {
      const jar = (await consoleSignIn(gw.url, 'fiona')).jar;
      const copy = cookieOf(jar);
      assert.equal((await get('/console/audit', copy, gw2.url)).status, 200);
      assert.equal((await post('/console/logout', jar, {})).status, 200);
      assert.equal((await get('/console/audit', copy)).status, 303);
      await waitFor('replica 2 refuses the signed-out cookie', async () => (await get('/console/audit', copy, gw2.url)).status === 303);
      const { rows } = await tdb.db.query(`SELECT 1 FROM audit_log WHERE event = 'console.sign_out' AND sub = 'fiona'`);
      assert.equal(rows.length, 1);
    });
  });
}

/**
 * The audit trail end to end, on real PostgreSQL and on PGlite: 1,000 inference requests with
 * mixed outcomes give exactly 1,000 rows with the right principals and costs, the chain
 * verifies and catches edits and deletions (library and CLI), retention keeps it verifiable,
 * and the admin API filters, pages and exports JSONL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, TEST_JWT_SECRET, type TestGateway } from '../support/gateway';
import { writeConfig } from '../support/process';
import { GatewayError } from '../../gateway-server/src/errors';
import type { ModelAccess, SpendGate } from '../../gateway-server/src/inference/hooks';
import type { Upstream } from '../../gateway-server/src/routing/upstream';
import { verifyAudit } from '../../gateway-server/src/audit/verify';
import { AuditWriter } from '../../gateway-server/src/audit/writer';
import { pruneAudit } from '../../gateway-server/src/audit/prune';
import { gatewayEventContent } from '../../gateway-server/src/audit/record';
import { auditPageSchema, auditEntrySchema } from '../../gateway-server/src/protocol/audit';

const READ_KEY = 'read-key-0123456789abcdef0123456789abcdef';
const USERS = [0, 1, 2, 3, 4].map((i) => ({ sub: `user-${i}`, email: `dev${i}@example.com`, groups: [`team-${i % 2}`, 'engineering'] }));
const BROKE = { sub: 'user-broke', email: 'broke@example.com', groups: ['interns'] };
// The mock replies with 25 input and 11 output tokens; the spend override prices them per user.
const costFor = (sub: string) => (25 * 3 + 11 * 15) * (Number(sub.split('-')[1]) + 1);

type Kind = 'ok' | 'stream' | 'policy' | 'spend' | 'upstream';
function kindOf(i: number): Kind {
  switch (i % 10) {
    case 3:
      return 'policy';
    case 5:
      return 'spend';
    case 7:
      return 'upstream';
    case 9:
      return 'stream';
    default:
      return 'ok';
  }
}
const OUTCOME: Record<Kind, string> = { ok: 'ok', stream: 'ok', policy: 'denied_policy', spend: 'blocked_spend', upstream: 'upstream_error' };

async function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway-server/src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, out };
}

for (const kind of storeKinds()) {
  describe(`audit trail (${kind})`, function () {
    this.timeout(180_000);
    let mock: MockAnthropic;
    let broken: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      broken = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      broken.defaults = { status: 500, errorType: 'api_error', errorMessage: 'simulated upstream failure' };
      tdb = await createTestDatabase(kind);
      const config = testConfig({
        upstreams: [
          { name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } },
          { name: 'broken', provider: 'anthropic', base_url: broken.url, auth: { api_key: 'sk-upstream-test' } },
        ],
        admin: { read_keys: [{ id: 'auditor', key: READ_KEY }] },
      });
      // Policy and spend seams overridden as the policy and spend features would behave.
      let upstreams: Upstream[] = [];
      const access: ModelAccess = {
        resolve(_p, model) {
          if (model === 'claude-forbidden') throw new GatewayError('MODEL_NOT_ALLOWED', `model ${model} is not in your role's availableModels allowlist`);
          const name = model === 'claude-broken' ? 'broken' : 'primary';
          return upstreams.filter((u) => u.name === name).map((upstream) => ({ upstream, upstreamModel: 'claude-sonnet-4-6' }));
        },
      };
      const spend: SpendGate = {
        async admit({ principal }) {
          if (principal.sub === BROKE.sub) throw new GatewayError('SPEND_LIMIT_REACHED', 'spend limit reached (daily)');
          return { headers: {}, settle: async ({ status }) => (status === 200 ? costFor(principal.sub) : 0) };
        },
      };
      gw = await startTestGateway({ config, db: tdb.db, access, spend });
      upstreams = gw.app.gateway.upstreams;
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
      await broken?.close();
    });

    it('writes exactly one row per request for 1,000 mixed requests, with the right principals and costs', async () => {
      const tokens = new Map([...USERS, BROKE].map((u) => [u.sub, gw.mint(u)]));
      const expected = new Map<string, { sub: string; kind: Kind }>();
      let next = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= 1000) return;
          const k = kindOf(i);
          const user = k === 'spend' ? BROKE : USERS[i % USERS.length]!;
          const model = k === 'policy' ? 'claude-forbidden' : k === 'upstream' ? 'claude-broken' : 'claude-sonnet-4-6';
          const requestId = `audit-${kind}-${i}`;
          expected.set(requestId, { sub: user.sub, kind: k });
          const res = await fetch(`${gw.url}/v1/messages`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${tokens.get(user.sub)}`,
              'content-type': 'application/json',
              'x-client-request-id': requestId,
              'x-claude-code-session-id': `session-${i % 7}`,
              'user-agent': 'claude-cli/2.1.332 (external, cli)',
            },
            body: JSON.stringify({ model, max_tokens: 16, stream: k === 'stream', messages: [{ role: 'user', content: `secret prompt ${i}` }] }),
          });
          await res.arrayBuffer();
          const want = { ok: 200, stream: 200, policy: 400, spend: 429, upstream: 500 }[k];
          assert.equal(res.status, want, `request ${i} (${k})`);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));

      const { rows } = await tdb.db.query<Record<string, unknown>>(`SELECT * FROM audit_log WHERE event = 'inference'`);
      assert.equal(rows.length, 1000);
      const seen = new Set<string>();
      for (const r of rows) {
        const want = expected.get(String(r.request_id));
        assert.ok(want, `unexpected row ${r.request_id}`);
        assert.ok(!seen.has(String(r.request_id)), `duplicate row ${r.request_id}`);
        seen.add(String(r.request_id));
        const user = [...USERS, BROKE].find((u) => u.sub === want.sub)!;
        assert.equal(r.sub, user.sub);
        assert.equal(r.email, user.email);
        assert.deepEqual(r.groups, user.groups);
        assert.equal(r.outcome, OUTCOME[want.kind], `outcome of ${r.request_id}`);
        assert.equal(r.surface, 'claude-cli');
        assert.match(String(r.session_id), /^session-\d$/);
        if (want.kind === 'ok' || want.kind === 'stream') {
          assert.equal(String(r.cost_micros), String(costFor(user.sub)), `cost of ${r.request_id}`);
          assert.equal(String(r.input_tokens), '25');
          assert.equal(String(r.output_tokens), '11');
          assert.equal(r.upstream, 'primary');
          assert.equal(Number(r.status), 200);
        }
        if (want.kind === 'policy') assert.equal(r.reason, 'MODEL_NOT_ALLOWED');
        if (want.kind === 'spend') assert.equal(r.reason, 'SPEND_LIMIT_REACHED');
        if (want.kind === 'upstream') assert.equal(r.upstream, 'broken');
        assert.ok(!JSON.stringify(r).includes('secret prompt'), 'no prompt content in audit rows');
      }
      const report = await verifyAudit(tdb.db);
      assert.equal(report.ok, true, JSON.stringify(report.breaks));
      assert.ok(report.rows >= 1000);
    });

    it('serves the audit log to admins: filters, pages newest first, exports JSONL', async () => {
      const get = (qs: string, headers: Record<string, string> = {}) =>
        fetch(`${gw.url}/v1/organizations/audit${qs}`, { headers: { 'x-api-key': READ_KEY, ...headers } });
      const first = await get('?user_id=user-1&outcome=ok&limit=50');
      assert.equal(first.status, 200);
      const page1 = auditPageSchema.parse(await first.json());
      assert.equal(page1.data.length, 50);
      assert.equal(page1.has_more, true);
      assert.ok(page1.data.every((e) => e.principal?.sub === 'user-1' && e.outcome === 'ok'));
      assert.ok(BigInt(page1.data[0]!.id) > BigInt(page1.data[49]!.id), 'newest first');
      const page2 = auditPageSchema.parse(await (await get(`?user_id=user-1&outcome=ok&limit=50&after_id=${page1.last_id}`)).json());
      assert.ok(BigInt(page2.data[0]!.id) < BigInt(page1.last_id!));
      const ids = new Set([...page1.data, ...page2.data].map((e) => e.id));
      assert.equal(ids.size, page1.data.length + page2.data.length, 'pages do not overlap');

      // user-1 serves i%5==1, i.e. i%10 in {1, 6}: 200 requests, all ok.
      const jsonl = await get('?user_id=user-1&outcome=ok', { accept: 'application/x-ndjson' });
      assert.match(jsonl.headers.get('content-type') ?? '', /application\/x-ndjson/);
      const lines = (await jsonl.text()).trim().split('\n').map((l) => auditEntrySchema.parse(JSON.parse(l)));
      assert.equal(lines.length, 200);
      assert.ok(lines.every((e) => e.cost_micros === String(costFor('user-1'))));
      assert.ok(BigInt(lines[0]!.id) < BigInt(lines[1]!.id), 'export is oldest first');

      const denied = await get('?outcome=denied_policy&format=jsonl');
      assert.equal((await denied.text()).trim().split('\n').length, 100);
      const future = auditPageSchema.parse(await (await get(`?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).json());
      assert.equal(future.data.length, 0);

      const bad = await get('?limit=5000');
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
      const unknown = await get('?colour=red');
      assert.equal(unknown.status, 400);
    });

    it('refuses non-admins and audits the denial', async () => {
      const wrongKey = await fetch(`${gw.url}/v1/organizations/audit`, { headers: { 'x-api-key': 'x'.repeat(40) } });
      assert.equal(wrongKey.status, 401);
      const notAdmin = await fetch(`${gw.url}/v1/organizations/audit`, { headers: { authorization: `Bearer ${gw.mint()}` } });
      assert.equal(notAdmin.status, 403);
      const { rows } = await tdb.db.query<{ reason: string }>(`SELECT reason FROM audit_log WHERE event = 'admin.denied' ORDER BY id`);
      assert.deepEqual(
        rows.map((r) => r.reason),
        ['invalid_key', 'not_admin_group'],
      );
      assert.equal((await verifyAudit(tdb.db)).ok, true);
    });

    it('detects an edited row and a deleted row', async () => {
      const { rows } = await tdb.db.query<{ id: string }>(`SELECT id FROM audit_log WHERE event = 'inference' ORDER BY id LIMIT 1 OFFSET 100`);
      const target = String(rows[0]!.id);
      const before = await tdb.db.query<{ cost_micros: string }>('SELECT cost_micros FROM audit_log WHERE id = $1', [target]);
      await tdb.db.query(`UPDATE audit_log SET cost_micros = 1 WHERE id = $1`, [target]);
      let report = await verifyAudit(tdb.db);
      assert.equal(report.ok, false);
      assert.deepEqual(
        report.breaks.map((b) => [b.kind, b.id]),
        [['hash_mismatch', target]],
      );
      await tdb.db.query(`UPDATE audit_log SET cost_micros = $2 WHERE id = $1`, [target, before.rows[0]!.cost_micros]);
      assert.equal((await verifyAudit(tdb.db)).ok, true, 'restoring the value restores the chain');

      const victim = await tdb.db.query<{ seq: string; chain: string }>('SELECT seq, chain FROM audit_log WHERE id = $1', [String(BigInt(target) + 5n)]);
      await tdb.db.query('DELETE FROM audit_log WHERE id = $1', [String(BigInt(target) + 5n)]);
      report = await verifyAudit(tdb.db);
      assert.equal(report.ok, false);
      assert.equal(report.breaks[0]!.kind, 'sequence_gap');
      assert.equal(report.breaks[0]!.seq, String(BigInt(victim.rows[0]!.seq) + 1n));

      if (tdb.url) {
        const path = writeConfig({ session: { jwt_secret: TEST_JWT_SECRET }, store: { postgres_url: tdb.url }, upstreams: [{ provider: 'anthropic', auth: { api_key: 'k' } }], listen: { host: '127.0.0.1', port: 0 } });
        const cli = await runCli(['audit', 'verify', '--config', path]);
        assert.equal(cli.code, 1, cli.out);
        assert.match(cli.out, /audit log BROKEN/);
        assert.match(cli.out, new RegExp(`first broken link at row id ${BigInt(target) + 6n} .*sequence_gap`));
      }
    });
  });

  describe(`audit retention and verification (${kind})`, function () {
    this.timeout(60_000);
    let tdb: TestDatabase;
    before(async () => {
      tdb = await createTestDatabase(kind);
    });
    after(async () => tdb?.drop());

    it('prunes old rows across chains and writes a checkpoint that keeps every chain verifiable', async () => {
      const day = 86_400_000;
      const start = Date.UTC(2026, 0, 1);
      const old = new AuditWriter(tdb.db, 'replica-a/1/old');
      const current = new AuditWriter(tdb.db, 'replica-b/2/current');
      const ev = (w: AuditWriter, i: number) =>
        w.append(gatewayEventContent({ name: 'session.refresh', at: new Date(start + i * day), outcome: 'ok', principal: { sub: `u${i}`, groups: ['g'] } }));
      // Chain a: 40 days of rows, all old; chain b: days 20..59.
      await Promise.all(Array.from({ length: 40 }, (_, i) => ev(old, i)));
      await Promise.all(Array.from({ length: 40 }, (_, i) => ev(current, i + 20)));
      assert.equal((await verifyAudit(tdb.db)).ok, true);

      const now = new Date(start + 60 * day);
      const res = await pruneAudit(tdb.db, current, new Date(now.getTime() - 30 * day), now);
      assert.deepEqual(res, { deleted: 30 + 10, ran: true });
      let report = await verifyAudit(tdb.db);
      assert.equal(report.ok, true, JSON.stringify(report.breaks));
      assert.equal(report.checkpoints, 1);

      // Rows keep coming after the prune, and a second prune supersedes the first checkpoint.
      await Promise.all(Array.from({ length: 5 }, (_, i) => ev(current, i + 60)));
      const later = new Date(start + 70 * day);
      await pruneAudit(tdb.db, current, new Date(later.getTime() - 30 * day), later);
      report = await verifyAudit(tdb.db);
      assert.equal(report.ok, true, JSON.stringify(report.breaks));

      // Without its checkpoint, the pruned chain no longer verifies.
      await tdb.db.query(`DELETE FROM audit_log WHERE event = 'audit.checkpoint'`);
      report = await verifyAudit(tdb.db);
      assert.equal(report.ok, false);
    });

    // The CLI reads the store by URL: PostgreSQL only (an in-memory PGlite has none to give it).
    if (kind === 'postgres') it('the CLI reports a clean log with exit code 0', async () => {
      assert.ok(tdb.url, 'the PostgreSQL test database has a URL');
      await tdb.db.query('TRUNCATE audit_log');
      const w = new AuditWriter(tdb.db);
      await Promise.all(Array.from({ length: 20 }, (_, i) => w.append(gatewayEventContent({ name: 'session.mint', at: new Date(), outcome: 'ok', principal: { sub: `u${i}` } }))));
      const path = writeConfig({ session: { jwt_secret: TEST_JWT_SECRET }, store: { postgres_url: tdb.url }, upstreams: [{ provider: 'anthropic', auth: { api_key: 'k' } }], listen: { host: '127.0.0.1', port: 0 } });
      const cli = await runCli(['audit', 'verify', '--config', path]);
      assert.equal(cli.code, 0, cli.out);
      assert.match(cli.out, /audit log verified: 20 rows in 1 chains/);
    });
  });
}

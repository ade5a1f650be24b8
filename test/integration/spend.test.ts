/**
 * Spend limits in one gateway process, on real PostgreSQL and on PGlite: the admin API, the 429,
 * usage headers, /api/oauth/usage, layering and period rollover with an injected clock.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { setSpendLimit, type LimitScope } from '../support/spend-limits';
import { reconcileReservations } from '../../gateway-server/src/spend/feature';

export const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
export const READ_KEY = 'rk-0123456789abcdef0123456789abcdef';

for (const kind of storeKinds()) {
  describe(`spend limits (${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    let nowMs = Date.parse('2026-08-07T12:00:00Z');
    const clock = { now: () => nowMs };

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic();
      tdb = await createTestDatabase(kind);
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: {
          write_keys: [{ id: 'ops', key: WRITE_KEY }],
          read_keys: [{ id: 'viewer', key: READ_KEY }],
          admin_groups: ['gateway-admins'],
          blocked_message: 'ask #eng-budget to raise it',
        },
      });
      gw = await startTestGateway({ config, db: tdb.db, clock });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });
    beforeEach(async () => {
      mock.queue = [];
      mock.defaults = {};
      await tdb.db.query('DELETE FROM spend_limits');
      await tdb.db.query('DELETE FROM spend_counters');
      await tdb.db.query('DELETE FROM spend_ledger');
      await tdb.db.query('DELETE FROM spend_reservations');
    });

    const admin = (method: string, path: string, body?: unknown, key = WRITE_KEY) =>
      fetch(`${gw.url}/v1/organizations/spend_limits${path}`, {
        method,
        headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    const setLimit = async (scope: object, amount: string | null, period = 'daily') => {
      // This gateway learns of its own change through NOTIFY too: wait until its cache has it.
      return setSpendLimit({ via: gw.url, adminKey: WRITE_KEY, scope: scope as LimitScope, amount, period: period as 'daily' });
    };
    const askWith = (sub: string, groups: string[], extra: Record<string, unknown>) => ask(sub, groups, extra);
    const ask = (sub: string, groups: string[] = ['engineering'], extra: Record<string, unknown> = {}, path = '/v1/messages') =>
      fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.mint({ sub, groups })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }], ...extra }),
      });

    it('creates, lists, fetches, replaces and deletes limits, auditing each mutation before/after', async () => {
      const created = await admin('POST', '', { scope: { type: 'organization' }, amount: '50000', period: 'monthly' });
      assert.equal(created.status, 200);
      assert.ok(created.headers.get('request-id'));
      const obj = (await created.json()) as Record<string, unknown>;
      assert.equal(obj.type, 'spend_limit');
      assert.match(String(obj.id), /^spl_/);
      assert.deepEqual([obj.amount, obj.currency, obj.period, obj.is_enabled], ['50000', 'USD', 'monthly', true]);
      assert.deepEqual(obj.scope, { type: 'organization' });
      const replaced = (await (await admin('POST', '', { scope: { type: 'organization' }, amount: null, period: 'monthly', currency: 'USD' })).json()) as Record<string, unknown>;
      assert.equal(replaced.id, obj.id, 'one cap per scope and period');
      assert.equal(replaced.amount, null);
      await admin('POST', '', { scope: { type: 'user', user_id: 'alice' }, amount: '100', period: 'daily' });
      const list = (await (await admin('GET', '?limit=1', undefined, READ_KEY)).json()) as { data: { id: string }[]; has_more: boolean; last_id: string };
      assert.equal(list.data.length, 1);
      assert.equal(list.has_more, true);
      const next = (await (await admin('GET', `?limit=1&after_id=${list.last_id}`, undefined, READ_KEY)).json()) as { data: { id: string }[]; has_more: boolean };
      assert.equal(next.has_more, false);
      assert.notEqual(next.data[0]!.id, list.data[0]!.id);
      const back = (await (await admin('GET', `?limit=1&before_id=${next.data[0]!.id}`, undefined, READ_KEY)).json()) as { data: { id: string }[] };
      assert.equal(back.data[0]!.id, list.data[0]!.id);
      const users = (await (await admin('GET', '?scope_type=user', undefined, READ_KEY)).json()) as { data: unknown[] };
      assert.equal(users.data.length, 1);
      assert.equal(((await (await admin('GET', `/${obj.id}`, undefined, READ_KEY)).json()) as { id: string }).id, obj.id);
      const del = await admin('DELETE', `/${obj.id}`);
      assert.deepEqual(await del.json(), { type: 'spend_limit_deleted', id: obj.id });
      assert.equal((await admin('GET', `/${obj.id}`, undefined, READ_KEY)).status, 404);
      const audit = (await (await admin('GET', '/audit?limit=3', undefined, READ_KEY)).json()) as { data: { action: string; change: string; actor: string; before: { amount: string | null } | null; after: unknown; id: string }[] };
      assert.deepEqual(audit.data.map((a) => a.action), ['spend_limit.delete', 'spend_limit.upsert', 'spend_limit.upsert']);
      assert.deepEqual(audit.data.map((a) => a.change), ['delete', 'create', 'update']);
      assert.equal(audit.data[0]!.actor, 'admin-key:ops');
      assert.equal(audit.data[2]!.before!.amount, '50000');
      assert.equal((audit.data[2]!.after as { amount: null }).amount, null);
      const older = (await (await admin('GET', `/audit?after_id=${audit.data[2]!.id}`, undefined, READ_KEY)).json()) as { data: { change: string }[] };
      assert.deepEqual(older.data.map((a) => a.change), ['create']);
    });

    it('refuses a read key writing (403), a non-USD currency (400) and malformed bodies, in the Anthropic envelope', async () => {
      const ro = await admin('POST', '', { scope: { type: 'organization' }, amount: '1', period: 'daily' }, READ_KEY);
      assert.equal(ro.status, 403);
      const body = (await ro.json()) as { type: string; error: { type: string; message: string }; request_id: string };
      assert.equal(body.error.type, 'permission_error');
      assert.match(body.error.message, /write:spend_limits/);
      assert.ok(body.request_id);
      const eur = await admin('POST', '', { scope: { type: 'organization' }, amount: '100', period: 'daily', currency: 'EUR' });
      assert.equal(eur.status, 400);
      assert.match(((await eur.json()) as { error: { message: string } }).error.message, /USD/);
      for (const bad of [{ scope: { type: 'organization' }, amount: 100, period: 'daily' }, { scope: { type: 'organization' }, amount: '1.5', period: 'daily' }, { scope: { type: 'team' }, amount: '1', period: 'daily' }, { scope: { type: 'organization' }, amount: '1', period: 'hourly' }]) {
        const r = await admin('POST', '', bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal(((await r.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
      }
      assert.equal((await admin('GET', '?limit=0', undefined, READ_KEY)).status, 400);
      assert.equal((await fetch(`${gw.url}/v1/organizations/spend_limits`)).status, 401);
      const bearer = await fetch(`${gw.url}/v1/organizations/spend_limits`, { headers: { authorization: `Bearer ${gw.mint({ sub: 'root', groups: ['gateway-admins'] })}` } });
      assert.equal(bearer.status, 200);
    });

    it('amount "0" blocks everything with the protocol 429; count_tokens is never blocked', async () => {
      await setLimit({ type: 'organization' }, '0', 'daily');
      const r = await ask('zero-user');
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('x-should-retry'), 'false');
      assert.equal(r.headers.get('retry-after'), String(12 * 3600));
      assert.equal(r.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
      assert.equal(r.headers.get('anthropic-ratelimit-unified-overage-disabled-reason'), 'org_spend_cap_reached');
      assert.equal(r.headers.get('anthropic-ratelimit-unified-overage-period'), 'daily');
      assert.equal(r.headers.get('anthropic-ratelimit-unified-overage-utilization'), '1');
      const body = (await r.json()) as { type: string; error: { type: string; message: string } };
      assert.equal(body.error.type, 'billing_error');
      assert.equal(body.error.message, 'spend limit reached (daily; resets 2026-08-08 00:00 UTC) ask #eng-budget to raise it ($0.0000 left; this request needs up to $0.0036 at max_tokens 20)');
      assert.equal(mock.requests.filter((q) => q.url.startsWith('/v1/messages') && !q.url.includes('count')).length, 0);
      const count = await ask('zero-user', ['engineering'], {}, '/v1/messages/count_tokens');
      assert.equal(count.status, 200);
    });

    it('charges the priced usage, sends usage headers, and reports /api/oauth/usage', async () => {
      await setLimit({ type: 'user', user_id: 'meter' }, '1', 'daily'); // 1 cent = 10 000 µ$
      mock.defaults = { reply: { inputTokens: 1000, outputTokens: 300 } }; // 3000 + 4500 = 7500 µ$
      const first = await ask('meter');
      assert.equal(first.status, 200);
      await first.json();
      assert.equal(first.headers.get('anthropic-ratelimit-unified-status'), 'allowed');
      assert.equal(first.headers.get('anthropic-ratelimit-unified-overage-utilization'), '0.00');
      const { rows } = await tdb.db.query<{ cost_micros: string }>("SELECT cost_micros FROM spend_ledger WHERE principal = 'meter'");
      assert.deepEqual(rows.map((r) => r.cost_micros), ['7500']);
      const usage = await fetch(`${gw.url}/api/oauth/usage`, { headers: { authorization: `Bearer ${gw.mint({ sub: 'meter' })}` } });
      assert.equal(usage.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await usage.json(), {
        extra_usage: { is_enabled: true, monthly_limit: 1, used_credits: 0, utilization: 75, currency: 'USD' },
        limits: [{ kind: 'spend', group: 'daily', percent: 75, resets_at: '2026-08-08T00:00:00.000Z', severity: 'normal', is_active: true }],
      });
      // The worst case of the next request (≈ 1 cent) no longer fits: refused before the upstream.
      const second = await ask('meter');
      assert.equal(second.status, 429);
      assert.match(((await second.json()) as { error: { message: string } }).error.message, /^spend limit reached \(daily; resets 2026-08-08 00:00 UTC\)/);
      const { rows: c } = await tdb.db.query<{ reserved_micros: string }>("SELECT reserved_micros FROM spend_counters WHERE principal = 'meter'");
      assert.ok(c.every((x) => x.reserved_micros === '0'), 'nothing left reserved');
      const uncapped = await fetch(`${gw.url}/api/oauth/usage`, { headers: { authorization: `Bearer ${gw.mint({ sub: 'nobody' })}` } });
      const ub = (await uncapped.json()) as { extra_usage: { monthly_limit: null; daily: unknown }; limits: unknown[] };
      assert.equal(ub.extra_usage.monthly_limit, null);
      assert.deepEqual(ub.extra_usage.daily, { limit: null, used_credits: 0, utilization: null });
      assert.deepEqual(ub.limits, []);
      assert.equal((await fetch(`${gw.url}/api/oauth/usage`)).status, 401);
    });

    it('layers user over group (min) over organization, per seat', async () => {
      await setLimit({ type: 'organization' }, '0', 'daily');
      await setLimit({ type: 'rbac_group', rbac_group_id: 'eng' }, '100', 'daily');
      await setLimit({ type: 'rbac_group', rbac_group_id: 'ops' }, '0', 'daily');
      await setLimit({ type: 'user', user_id: 'vip' }, null, 'daily');
      assert.equal((await ask('plain', ['sales'])).status, 429, 'organization cap');
      assert.equal((await ask('eng-dev', ['eng'])).status, 200, 'group cap');
      assert.equal((await ask('both', ['eng', 'ops'])).status, 429, 'most restrictive group');
      assert.equal((await ask('vip', ['ops'])).status, 200, 'user override (unlimited)');
      const eff = await admin('GET', '/effective?user_ids[]=eng-dev&user_ids[]=plain&period[]=daily', undefined, READ_KEY);
      const rows = ((await eff.json()) as { data: { user_id: string; amount: string | null; groups: string[] }[] }).data;
      assert.deepEqual(rows.map((r) => [r.user_id, r.amount]).sort(), [['eng-dev', '100'], ['plain', '0']]);
    });

    it('rolls the daily, weekly and monthly counters over on UTC boundaries (injected clock)', async () => {
      await setLimit({ type: 'user', user_id: 'roll' }, '1', 'daily');
      await setLimit({ type: 'user', user_id: 'roll' }, '2', 'weekly');
      await setLimit({ type: 'user', user_id: 'roll' }, '3', 'monthly');
      mock.defaults = { reply: { inputTokens: 1000, outputTokens: 300 } }; // 7500 µ$ each; worst case ≈ 9300 µ$
      const ask = (sub: string) => askWith(sub, ['engineering'], { max_tokens: 400 });
      nowMs = Date.parse('2026-08-30T23:59:00Z'); // a Sunday, last days of the month
      try {
        assert.equal((await ask('roll')).status, 200);
        assert.equal((await ask('roll')).status, 429, 'daily full');
        nowMs = Date.parse('2026-08-31T00:00:00Z'); // Monday: new day and new week
        assert.equal((await ask('roll')).status, 200);
        assert.equal((await ask('roll')).status, 429);
        nowMs = Date.parse('2026-09-01T00:00:00Z'); // new day, same week, new month
        const r = await ask('roll');
        assert.equal(r.status, 200);
        nowMs = Date.parse('2026-09-02T00:00:00Z'); // weekly holds 1.5 of 2 cents: the worst case no longer fits
        const blocked = await ask('roll');
        assert.equal(blocked.status, 429);
        assert.match(((await blocked.json()) as { error: { message: string } }).error.message, /\(weekly; resets 2026-09-07 00:00 UTC\)/);
      } finally {
        nowMs = Date.parse('2026-08-07T12:00:00Z');
      }
    });

    it('releases an expired reservation and charges its prompt estimate (reconciler)', async () => {
      await setLimit({ type: 'user', user_id: 'ghost' }, '100', 'daily');
      // A reservation left by a crashed replica.
      await tdb.db.query(
        "SELECT * FROM tollgate_spend_reserve('ghost', 'rsv_dead', ARRAY['d:2026-08-07','m:2026-08','w:2026-08-03'], ARRAY[1000000,NULL,NULL]::bigint[], 90000, 1234, 'claude-sonnet-4-6', 'req-x', $1::timestamptz, $2::timestamptz)",
        [new Date(nowMs).toISOString(), new Date(nowMs + 1000).toISOString()],
      );
      assert.equal(await reconcileReservations(tdb.db, nowMs), 0, 'not expired yet');
      assert.equal(await reconcileReservations(tdb.db, nowMs + 1000), 1);
      const { rows } = await tdb.db.query<{ spent_micros: string; reserved_micros: string }>("SELECT spent_micros, reserved_micros FROM spend_counters WHERE principal = 'ghost'");
      assert.ok(rows.every((r) => r.spent_micros === '1234' && r.reserved_micros === '0'));
      const { rows: l } = await tdb.db.query<{ estimated: boolean; reconciled: boolean }>("SELECT estimated, reconciled FROM spend_ledger WHERE id = 'rsv_dead'");
      assert.deepEqual(l, [{ estimated: true, reconciled: true }]);
    });
  });
}

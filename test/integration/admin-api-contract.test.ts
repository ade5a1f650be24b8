/**
 * The Admin API's responses against Anthropic's observed shapes (shared/reference/admin-api-shapes.md),
 * on real PostgreSQL and on PGlite. The REFERENCE samples below are copied from that page: every
 * field they have must be present here with the same JSON type (extra fields of ours are fine),
 * and the fields whose meaning matters are asserted by value. Also: caps by email and group
 * names nobody has, and a cap binding the very next request after its POST returns.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { waitFor } from '../support/wait';

const WRITE_KEY = 'wk-contract-0123456789abcdef0123456789ab';
const READ_KEY = 'rk-contract-0123456789abcdef0123456789ab';

const REFERENCE = {
  spendLimit: {
    type: 'spend_limit', id: 'spl_f7045335bb2e49dda941bc23c9e1a274', created_at: '2026-11-27T20:57:33.618Z', updated_at: '2026-11-27T20:57:33.618Z',
    scope: { type: 'user', user_id: 'alice' }, amount: '1', currency: 'USD', period: 'daily',
  },
  list: { data: [], has_more: false, first_id: 'spl_…', last_id: 'spl_…' },
  deleted: { type: 'spend_limit_deleted', id: 'spl_…' },
  effectiveCapped: {
    scope: { type: 'user', user_id: 'alice' }, groups: ['eng'],
    actor: { type: 'user_actor', user_id: 'alice', name: 'Alice Example', email_address: 'alice@example.com', deleted: false },
    amount: '1', currency: 'USD', period: 'daily',
    source: { type: 'user', user_id: 'alice' }, spend_limit_id: 'spl_f7045335bb2e49dda941bc23c9e1a274',
    period_to_date_spend: '0.21',
  },
  effectivePage: { data: [], next_page: null },
  auditEvent: {
    type: 'audit_event', id: '2', created_at: '2026-11-27T20:57:34.989Z', actor: 'admin-key:probe-writer',
    action: 'spend_limit.upsert', target_id: 'spl_…', before: {}, after: {}, reason: null,
  },
  auditPage: { data: [], has_more: false },
  error: { type: 'error', error: { type: 'invalid_request_error', message: '…' }, request_id: 'req_…' },
} as const;

const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every key of `ref` is in `actual` with the same JSON type, recursively (arrays: first element). */
function assertShape(actual: unknown, ref: unknown, where: string, nullable: readonly string[] = []): void {
  if (ref === null) return; // a null in the reference is typed by the value assertions
  assert.equal(jsonType(actual), jsonType(ref), `${where}: JSON type`);
  if (Array.isArray(ref)) {
    if (ref.length && (actual as unknown[]).length) assertShape((actual as unknown[])[0], ref[0], `${where}[0]`, nullable);
    return;
  }
  if (typeof ref !== 'object') return;
  for (const [k, v] of Object.entries(ref as Record<string, unknown>)) {
    const a = (actual as Record<string, unknown>)[k];
    assert.ok(Object.hasOwn(actual as object, k), `${where}.${k} is missing`);
    if (a === null && nullable.includes(k)) continue;
    assertShape(a, v, `${where}.${k}`, nullable);
  }
}

for (const kind of storeKinds()) {
  describe(`Admin API contract (${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic();
      tdb = await createTestDatabase(kind);
      gw = await startTestGateway({
        db: tdb.db,
        config: testConfig({
          upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
          admin: { write_keys: [{ id: 'probe-writer', key: WRITE_KEY }], read_keys: [{ id: 'viewer', key: READ_KEY }] },
        }),
      });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });

    const admin = (method: string, path: string, body?: unknown, key = WRITE_KEY, headers: Record<string, string> = {}) =>
      fetch(`${gw.url}/v1/organizations/spend_limits${path}`, {
        method,
        headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
    const json = async (r: Response) => {
      const text = await r.text();
      assert.ok(r.status < 300, `${r.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const ask = (sub: string, extra: Record<string, unknown> = {}, who: Record<string, unknown> = {}) =>
      fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.mint({ sub, groups: ['eng'], ...who })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }], ...extra }),
      });

    it('the first cap after start binds the very next request (refused even at the lowered max_tokens floor)', async () => {
      // 1 cent: a request lowered to enforcement.min_output_tokens (1024 x $15/M = 1.536 cents) still does not fit.
      const created = await admin('POST', '', { scope: { type: 'user', user_id: 'first' }, amount: '1', period: 'daily' });
      assert.equal(created.status, 200, await created.clone().text());
      const r = await ask('first', { max_tokens: 1e12 });
      assert.equal(r.status, 429, await r.text());
    });

    it('spend limit objects, list, get and bodiless DELETE/GET with a JSON content type', async () => {
      const obj = await json(await admin('POST', '', { scope: { type: 'user', user_id: 'alice' }, amount: '1', period: 'daily' }));
      assertShape(obj, REFERENCE.spendLimit, 'POST');
      assert.deepEqual([obj.type, obj.scope, obj.amount, obj.currency, obj.period], ['spend_limit', { type: 'user', user_id: 'alice' }, '1', 'USD', 'daily']);
      const got = await json(await admin('GET', `/${obj.id}`, undefined, READ_KEY, { 'content-type': 'application/json' }));
      assertShape(got, REFERENCE.spendLimit, 'GET by id');
      assert.equal(got.id, obj.id);
      const list = await json(await admin('GET', '?limit=2', undefined, READ_KEY, { 'content-type': 'application/json' }));
      assertShape(list, REFERENCE.list, 'list');
      assertShape((list.data as unknown[])[0], REFERENCE.spendLimit, 'list.data');
      const extra = await json(await admin('POST', '', { scope: { type: 'organization' }, amount: '5000', period: 'monthly' }));
      const del = await admin('DELETE', `/${extra.id}`, undefined, WRITE_KEY, { 'content-type': 'application/json' });
      assert.equal(del.status, 200, await del.clone().text());
      assert.deepEqual(await del.json(), { type: 'spend_limit_deleted', id: extra.id });
      assert.equal((await admin('DELETE', `/${extra.id}`, undefined, WRITE_KEY, { 'content-type': 'application/json' })).status, 404);
    });

    it('/effective: Anthropic field names, exact sub-cent period_to_date_spend, source and spend_limit_id', async () => {
      const cap = await json(await admin('POST', '', { scope: { type: 'user', user_id: 'alice' }, amount: '1', period: 'daily' }));
      mock.defaults = { reply: { inputTokens: 200, outputTokens: 100 } }; // 600 + 1500 µ$ = 0.21 cents
      const r = await ask('alice', { max_tokens: 200 }, { email: 'alice@example.com', name: 'Alice Example' });
      assert.equal(r.status, 200, await r.clone().text());
      await r.json();
      mock.defaults = {};
      const page = await waitFor('alice has her spend and groups recorded', async () => {
        const p = await json(await admin('GET', '/effective?user_ids[]=alice', undefined, READ_KEY));
        const rows = p.data as { period_to_date_spend: string; groups: string[] }[];
        return rows.length === 3 && rows.every((x) => x.period_to_date_spend === '0.21' && x.groups.length) ? p : undefined;
      });
      assertShape(page, REFERENCE.effectivePage, 'effective');
      assert.equal(page.next_page, null);
      const rows = page.data as Record<string, unknown>[];
      const daily = rows.find((x) => x.period === 'daily')!;
      const weekly = rows.find((x) => x.period === 'weekly')!;
      assertShape(daily, REFERENCE.effectiveCapped, 'effective daily');
      assert.deepEqual(daily.scope, { type: 'user', user_id: 'alice' });
      assert.deepEqual(daily.groups, ['eng']);
      assert.deepEqual(daily.actor, { type: 'user_actor', user_id: 'alice', name: 'Alice Example', email_address: 'alice@example.com', deleted: false });
      assert.deepEqual([daily.amount, daily.currency, daily.source, daily.spend_limit_id, daily.period_to_date_spend], ['1', 'USD', { type: 'user', user_id: 'alice' }, cap.id, '0.21']);
      assertShape(weekly, REFERENCE.effectiveCapped, 'effective weekly', ['amount', 'source', 'spend_limit_id']);
      assert.deepEqual([weekly.amount, weekly.source, weekly.spend_limit_id, weekly.period_to_date_spend], [null, null, null, '0.21']);
      const group = await json(await admin('POST', '', { scope: { type: 'rbac_group', rbac_group_id: 'eng' }, amount: '500', period: 'weekly' }));
      const w = ((await json(await admin('GET', '/effective?user_ids[]=alice&period[]=weekly', undefined, READ_KEY))).data as Record<string, unknown>[])[0]!;
      assert.deepEqual([w.source, w.spend_limit_id, w.amount], [{ type: 'rbac_group', rbac_group_id: 'eng' }, group.id, '500']);
      const never = ((await json(await admin('GET', '/effective?user_ids[]=nobody-yet&period[]=daily', undefined, READ_KEY))).data as Record<string, unknown>[])[0]!;
      assert.deepEqual(never.actor, { type: 'user_actor', user_id: 'nobody-yet', name: null, email_address: null, deleted: false });
    });

    it('audit events: string ids, Anthropic actions, before/after without type, reason', async () => {
      const page = await json(await admin('GET', '/audit?limit=2', undefined, READ_KEY, { 'content-type': 'application/json' }));
      assertShape(page, REFERENCE.auditPage, 'audit');
      const events = page.data as Record<string, unknown>[];
      assert.equal(events.length, 2);
      for (const e of events) {
        assertShape(e, REFERENCE.auditEvent, 'audit event', ['before']);
        assert.match(e.id as string, /^[0-9]+$/);
        assert.equal(e.reason, null);
        assert.equal(e.actor, 'admin-key:probe-writer');
        assert.ok(!('type' in (e.after as object)), 'after is a spend limit without "type"');
      }
      assert.ok(Number(events[0]!.id) > Number(events[1]!.id), 'newest first');
      assert.equal(events[0]!.action, 'spend_limit.upsert');
      const older = await json(await admin('GET', `/audit?limit=1&after_id=${events[1]!.id}`, undefined, READ_KEY));
      assert.ok(Number((older.data as { id: string }[])[0]!.id) < Number(events[1]!.id));
    });

    it('errors: 403 read key writing, 400 non-USD, 404 unknown id, in the Anthropic envelope with request-id', async () => {
      const cases: [Response, number, string][] = [
        [await admin('POST', '', { scope: { type: 'organization' }, amount: '1', period: 'daily' }, READ_KEY), 403, 'permission_error'],
        [await admin('POST', '', { scope: { type: 'organization' }, amount: '1', period: 'daily', currency: 'EUR' }), 400, 'invalid_request_error'],
        [await admin('GET', '/spl_doesnotexist', undefined, READ_KEY), 404, 'not_found_error'],
      ];
      for (const [r, status, type] of cases) {
        assert.equal(r.status, status);
        assert.ok(r.headers.get('request-id'));
        const body = (await r.json()) as { error: { type: string }; request_id: string };
        assertShape(body, REFERENCE.error, `error ${status}`);
        assert.equal(body.error.type, type);
        assert.equal(body.request_id, r.headers.get('request-id'));
      }
    });

    it('a user cap keyed by email resolves to who signed in with it, or is refused with a sentence', async () => {
      const refused = await admin('POST', '', { scope: { type: 'user', user_id: 'stranger@example.com' }, amount: '100', period: 'daily' });
      assert.equal(refused.status, 400);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /nobody has signed in with the email stranger@example\.com.*subject/);
      const r = await ask('00u1okta-opaque', {}, { email: 'Bob@Example.com' });
      assert.equal(r.status, 200);
      await r.json();
      const made = await waitFor('bob is recorded', async () => {
        const x = await admin('POST', '', { scope: { type: 'user', user_id: 'bob@example.com' }, amount: '0', period: 'daily' });
        return x.status === 200 ? ((await x.json()) as Record<string, unknown>) : void (await x.text());
      });
      assert.deepEqual(made.scope, { type: 'user', user_id: '00u1okta-opaque' });
      assert.equal(made.resolved_from_email, 'bob@example.com');
      assert.equal((await ask('00u1okta-opaque', {}, { email: 'Bob@Example.com' })).status, 429, 'the cap binds bob');
    });

    it('a group cap no IdP group ever had is accepted with a warning; a seen group has none', async () => {
      const typo = await json(await admin('POST', '', { scope: { type: 'rbac_group', rbac_group_id: 'engg' }, amount: '100', period: 'daily' }));
      assert.match(String(typo.warning), /no one signed in with the IdP group engg/);
      const seen = await json(await admin('POST', '', { scope: { type: 'rbac_group', rbac_group_id: 'eng' }, amount: '100', period: 'daily' }));
      assert.equal(seen.warning, undefined);
    });
  });
}

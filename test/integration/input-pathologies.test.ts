/**
 * Every string pathology, sent the way a signed-in user can: each request gets a 4xx (or its
 * normal answer) and exactly one audit row, on real PostgreSQL and on PGlite. Rows are counted
 * by request ID in the database itself; the corpus is fixed here, independent of the code.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';

const ADMIN_KEY = 'admin-write-key-0123456789abcdef0123456789';

/** Model names as raw JSON text (escapes kept, so lone surrogates survive to the wire). */
const MODEL_PATHOLOGIES: [string, string][] = [
  ['NUL', '"\\u0000"'],
  ['NUL after a real model', '"claude-sonnet-4-6\\u0000"'],
  ['lone high surrogate', '"claude-\\ud800"'],
  ['lone low surrogate', '"claude-\\udc00x"'],
  ['reversed pair', '"\\udc00\\ud800"'],
  ['high surrogate at end', '"\\ud83d"'],
  ['noncharacter U+FFFE', '"claude-\\ufffe"'],
  ['C0 controls', '"\\u0001\\u001f\\u007f"'],
  ['bidi override', '"claude-\\u202esonnet"'],
  ['emoji', '"claude-😀"'],
  ['100 KB model', JSON.stringify('m'.repeat(100_000))],
  ['empty-looking', '"\\u200b"'],
];

async function waitForRows(tdb: TestDatabase, ids: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let attempt = 0; attempt < 400; attempt++) {
    const { rows } = await tdb.db.query<{ request_id: string; n: string }>(
      'SELECT request_id, count(*)::text AS n FROM audit_log WHERE request_id = ANY($1) GROUP BY request_id',
      [ids],
    );
    counts.clear();
    for (const r of rows) counts.set(r.request_id, Number(r.n));
    if (counts.size === ids.length) return counts;
    await new Promise((r) => setTimeout(r, 25));
  }
  return counts;
}

for (const kind of storeKinds()) {
  describe(`input pathologies (${kind})`, function () {
    this.timeout(120_000);
    let tdb: TestDatabase;
    let gw: TestGateway;
    let mock: MockAnthropic;

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
      });
      gw = await startTestGateway({ config, db: tdb.db });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });

    it('answers every model-name pathology below 500 and writes exactly one audit row per request', async () => {
      const token = gw.mint();
      const ids: string[] = [];
      const statuses: string[] = [];
      for (const [i, [name, model]] of MODEL_PATHOLOGIES.entries()) {
        const id = `pathology-${kind}-${i}`;
        ids.push(id);
        const res = await fetch(`${gw.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-request-id': id, 'x-claude-code-session-id': 's\u00ff' },
          body: `{"model":${model},"max_tokens":1,"messages":[{"role":"user","content":"\\u0000\\ud800"}]}`,
        });
        await res.arrayBuffer();
        if (res.status >= 500) statuses.push(`${name}: ${res.status}`);
      }
      assert.deepEqual(statuses, [], 'no 5xx');
      const counts = await waitForRows(tdb, ids);
      assert.deepEqual(
        ids.map((id) => `${id}=${counts.get(id) ?? 0}`),
        ids.map((id) => `${id}=1`),
      );
    });

    it('records unstorable text as U+FFFD and keeps the raw value\'s SHA-256', async () => {
      const id = `pathology-${kind}-hash`;
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.mint()}`, 'content-type': 'application/json', 'x-client-request-id': id },
        body: '{"model":"claude-\\ud800\\u0000","max_tokens":1,"messages":[]}',
      });
      await res.arrayBuffer();
      await waitForRows(tdb, [id]);
      const { rows } = await tdb.db.query<{ model: string; detail: { raw_sha256?: Record<string, string> } }>(
        'SELECT model, detail FROM audit_log WHERE request_id = $1',
        [id],
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.model, 'claude-\ufffd\ufffd');
      const raw = 'claude-\ud800\u0000';
      assert.equal(rows[0]!.detail.raw_sha256?.model, createHash('sha256').update(JSON.stringify(raw)).digest('hex'));
    });

    it('refuses NUL and lone surrogates in an Admin API user_id with 400 INVALID_TEXT, never 5xx', async () => {
      for (const userId of ['%00', 'u%00x', 'u%ED%A0%80', '%ED%B0%80']) {
        const res = await fetch(`${gw.url}/v1/organizations/users/${userId}/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
        const body = (await res.json()) as { type: string; error: { type: string; message: string } };
        assert.equal(res.status, 400, `${userId}: ${JSON.stringify(body)}`);
        assert.equal(body.type, 'error');
        assert.equal(body.error.type, 'invalid_request_error');
      }
      const res = await fetch(`${gw.url}/v1/organizations/users/u%00x/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /user_id contains a NUL/);
    });

    it('refuses NUL and lone surrogates anywhere in Admin API JSON bodies and queries with 400 INVALID_TEXT', async () => {
      const cases: [string, string, string | undefined][] = [
        ['POST', '/v1/organizations/spend_limits', '{"scope":{"type":"user","user_id":"u\\u0000"},"amount":"100","period":"monthly"}'],
        ['POST', '/v1/organizations/spend_limits', '{"scope":{"type":"rbac_group","rbac_group_id":"g\\ud800"},"amount":"100","period":"monthly"}'],
        ['GET', '/v1/organizations/spend_limits?scope_type=user&user_id=%00', undefined],
        ['GET', '/v1/organizations/audit?sub=a%00b', undefined],
      ];
      for (const [method, path, body] of cases) {
        const res = await fetch(`${gw.url}${path}`, { method, headers: { 'x-api-key': ADMIN_KEY, ...(body ? { 'content-type': 'application/json' } : {}) }, body });
        const parsed = (await res.json()) as { type: string; error: { type: string; message: string } };
        assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(parsed)}`);
        assert.match(parsed.error.message, /NUL character or an unpaired UTF-16 surrogate/, `${method} ${path}`);
      }
    });
  });
}

/**
 * The auditor's read path, on real PostgreSQL and on PGlite: a bearer in `admin.viewer_groups`
 * reads the audit trail but cannot change anything, and every read of the trail (viewer, admin
 * group member or read key) writes an `admin.audit.read` row naming the reader and the filters.
 */
import assert from 'node:assert/strict';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';

const READ_KEY = 'read-key-viewer-0123456789abcdef0123456789';

for (const kind of storeKinds()) {
  describe(`audit viewer role (${kind})`, function () {
    this.timeout(120_000);
    let tdb: TestDatabase;
    let gw: TestGateway;

    before(async () => {
      tdb = await createTestDatabase(kind);
      const config = testConfig({ admin: { admin_groups: ['platform-admins'], viewer_groups: ['auditors'], read_keys: [{ id: 'siem-export', key: READ_KEY }] } });
      gw = await startTestGateway({ config, db: tdb.db });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
    });

    const reads = async () =>
      (await tdb.db.query<{ actor: string; outcome: string; detail: { filters: Record<string, unknown>; read_only: boolean } }>(`SELECT actor, outcome, detail FROM audit_log WHERE event = 'admin.audit.read' ORDER BY id`)).rows;

    it('lets a viewer_groups member read the audit trail and records the read with the reader', async () => {
      const auditor = gw.mint({ sub: 'auditor-1', email: 'auditor@example.com', groups: ['auditors'] });
      const res = await fetch(`${gw.url}/v1/organizations/audit?event=session.revoke&limit=5`, { headers: { authorization: `Bearer ${auditor}` } });
      assert.equal(res.status, 200, await res.clone().text());
      const rows = await reads();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.actor, 'oidc:auditor-1');
      assert.equal(rows[0]!.outcome, 'ok');
      assert.deepEqual(rows[0]!.detail, { filters: { event: 'session.revoke' }, read_only: true });
      // The read row is itself in the trail the next reader sees.
      const jsonl = await fetch(`${gw.url}/v1/organizations/audit?format=jsonl`, { headers: { 'x-api-key': READ_KEY } });
      const entries = (await jsonl.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; actor: string });
      assert.ok(entries.some((e) => e.event === 'admin.audit.read' && e.actor === 'oidc:auditor-1'));
      const after = await reads();
      assert.equal(after.length, 2);
      assert.equal(after[1]!.actor, 'admin-key:siem-export');
      assert.deepEqual(after[1]!.detail, { filters: { format: 'jsonl' }, read_only: true });
    });

    it('refuses a viewer any change, with a sentence, and audits the refusal', async () => {
      const auditor = gw.mint({ sub: 'auditor-2', groups: ['auditors'] });
      const res = await fetch(`${gw.url}/v1/organizations/users/someone/sessions/revoke`, { method: 'POST', headers: { authorization: `Bearer ${auditor}` } });
      assert.equal(res.status, 403);
      const body = (await res.json()) as { error: { message: string } };
      assert.match(body.error.message, /read-only admin access \(admin\.viewer_groups\)/);
      const { rows } = await tdb.db.query<{ reason: string }>(`SELECT reason FROM audit_log WHERE event = 'admin.denied' ORDER BY id DESC LIMIT 1`);
      assert.equal(rows[0]!.reason, 'viewer_group');
      // An admin group member still writes; a member of neither group reads nothing.
      const admin = gw.mint({ sub: 'admin-1', groups: ['platform-admins'] });
      assert.equal((await fetch(`${gw.url}/v1/organizations/users/someone/sessions/revoke`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } })).status, 200);
      const dev = gw.mint({ sub: 'dev-1', groups: ['engineering'] });
      assert.equal((await fetch(`${gw.url}/v1/organizations/audit`, { headers: { authorization: `Bearer ${dev}` } })).status, 403);
    });
  });
}

/**
 * `schema: ocsf` end to end, on real PostgreSQL and on PGlite: a gateway with a file sink in OCSF
 * mode, keyed checkpoints and an admin read key ships committed rows (inferences, an audit read,
 * a refused admin call, audit.seal checkpoints); every line the sink wrote validates with ajv
 * against the OCSF class schemas in test/data/ocsf/, and together they carry every row once, in
 * chain order, without prompt text or credentials.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { assertDelivered, auditIds } from '../support/sink-checks';
import { assertOcsf } from '../support/ocsf';
import { waitFor } from '../support/wait';
import { sealsFrom } from '../../gateway-server/src/audit/bundle/verify';

const READ_KEY = 'read-key-ocsf-0123456789abcdef0123456789ab';
const KEY = 'ocsf-checkpoint-key-0123456789abcdef0123';

function lines(dir: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const kind of storeKinds()) {
  describe(`audit sink with schema: ocsf (${kind})`, function () {
    this.timeout(300_000);
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    let dir: string;

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      dir = mkdtempSync(join(tmpdir(), 'tollgate-ocsf-sink-'));
      const config = testConfig({
        upstreams: [{ name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { read_keys: [{ id: 'auditor', key: READ_KEY }] },
        audit: {
          checkpoints: { every_rows: 10, every_seconds: 1, signing_key_id: 'k1', keys: [{ id: 'k1', key: KEY }] },
          sinks: [{ type: 'file', name: 'security-lake', dir, schema: 'ocsf', batch_size: 7 }],
        },
      });
      gw = await startTestGateway({ config, db: tdb.db });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });

    it('ships every committed row as an OCSF event that validates against its class schema', async () => {
      const token = gw.mint({ sub: 'user-ocsf', email: 'ocsf@example.com', groups: ['engineering'] });
      for (let i = 0; i < 25; i++) {
        const res = await fetch(`${gw.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: `secret prompt ${i}` }] }),
        });
        await res.arrayBuffer();
        assert.equal(res.status, 200);
      }
      const read = await fetch(`${gw.url}/v1/organizations/audit?limit=1`, { headers: { 'x-api-key': READ_KEY } });
      assert.equal(read.status, 200);
      await read.arrayBuffer();
      const refused = await fetch(`${gw.url}/v1/organizations/audit`, { headers: { 'x-api-key': 'x'.repeat(40) } });
      assert.equal(refused.status, 401);
      await refused.arrayBuffer();

      const { expected, got } = await waitFor(
        'the OCSF sink holds every committed row, including a checkpoint',
        async () => {
          const expected = await auditIds(tdb.db);
          const got = lines(dir);
          const events = new Set([...expected.values()].map((r) => r.event));
          const ready = ['inference', 'admin.audit.read', 'admin.denied', 'audit.seal'].every((e) => events.has(e));
          return ready && new Set(got.map((e) => (e.metadata as { uid: string }).uid)).size >= expected.size ? { expected, got } : undefined;
        },
        { intervalMs: 100 },
      );
      got.forEach((e, i) => assertOcsf(e, `line ${i + 1}`));
      const asRows = got.map((e) => {
        const u = e.unmapped as { seq: string; hash: string };
        return { id: (e.metadata as { uid: string }).uid, seq: u.seq, hash: u.hash };
      });
      assertDelivered('security-lake', asRows, expected);
      const byEvent = (name: string) => got.filter((e) => (e.metadata as { event_code: string }).event_code === name);
      const inference = byEvent('inference');
      assert.equal(inference.length, 25);
      assert.ok(inference.every((e) => e.class_uid === 6003 && e.activity_id === 1 && e.status_id === 1 && (e.actor as { user: { uid: string } }).user.uid === 'user-ocsf'));
      assert.deepEqual(inference[0]!.http_response, { code: 200 });
      assert.ok(byEvent('audit.seal').every((e) => e.class_uid === 6003 && e.activity_id === 99));
      assert.ok(byEvent('admin.audit.read').every((e) => e.activity_id === 2 && e.status_id === 1));
      assert.ok(byEvent('admin.denied').every((e) => e.status_id === 2 && e.status_detail === 'invalid_key'));
      const text = readdirSync(dir).map((n) => readFileSync(join(dir, n), 'utf8')).join('');
      // The checkpoints shipped in OCSF are still usable as `verify-bundle --sink-checkpoints` input.
      const seals = sealsFrom(text);
      assert.equal(seals.length, byEvent('audit.seal').length);
      assert.ok(seals.every((x) => x.key_id === 'k1' && /^[0-9a-f]{64}$/.test(x.mac)), JSON.stringify(seals[0]));
      assert.doesNotMatch(text, /secret prompt/);
      assert.doesNotMatch(text, /sk-upstream-test|Bearer |read-key-ocsf|ocsf-checkpoint-key|xxxxxxxxxx/);
    });
  });
}

/**
 * The s3 audit sink end to end, on real PostgreSQL and on PGlite: a gateway ships committed
 * audit rows through the AWS SDK to a loopback S3-compatible endpoint that checks every SigV4
 * signature with its own node:crypto implementation (test/support/s3-receiver.ts). The objects,
 * read in key order, hold every row exactly once in chain order without prompt text or
 * credentials; an outage (503) keeps the backlog and drains; a sink with a wrong secret key is
 * refused by the signature check and its lag shows in /healthz detail.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, TEST_JWT_SECRET, type TestGateway } from '../support/gateway';
import { startS3Receiver, type S3Receiver } from '../support/s3-receiver';
import { assertDelivered, auditIds } from '../support/sink-checks';
import { waitFor } from '../support/wait';
import { resolveConfig } from '../../gateway-server/src/config/load';
import { auditEntrySchema } from '../../gateway-server/src/protocol/audit';
import { checkSinkReachable } from '../../gateway-server/src/audit/sinks/check';

const ACCESS_KEY = 'AKIATOLLGATETEST0001';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYTOLLGATEKEY';
const REGION = 'eu-central-1';
const BUCKET = 'audit-cold';

interface SinkHealth {
  name: string;
  lag_rows: number;
  shipping: boolean;
  last_error: string | null;
  consecutive_failures: number;
}

/** Every JSONL line of every object, objects in key order. */
function objectEntries(s3: S3Receiver): Record<string, unknown>[] {
  return [...s3.objects.keys()].sort().flatMap((k) =>
    s3.objects
      .get(k)!
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

for (const kind of storeKinds()) {
  describe(`audit s3 sink (${kind})`, function () {
    this.timeout(300_000);
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    let s3: S3Receiver;
    let token: string;

    const send = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${gw.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: `secret prompt ${tag} ${i}` }] }),
        });
        await res.arrayBuffer();
        assert.equal(res.status, 200);
      }
    };
    const health = async () => ((await (await fetch(`${gw.url}/healthz?detail`)).json()) as { audit_sinks: SinkHealth[] }).audit_sinks;
    const sink = async (name: string) => (await health()).find((s) => s.name === name)!;

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      s3 = await startS3Receiver({ bucket: BUCKET, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, region: REGION });
      const s3Common = { type: 's3', bucket: BUCKET, region: REGION, endpoint: s3.url, force_path_style: true, access_key_id: ACCESS_KEY, max_backoff_seconds: 1 };
      // The secret comes from the environment, as operators keep it: `${VAR}` is expanded at load.
      const config = resolveConfig(
        {
          listen: { host: '127.0.0.1', port: 0 },
          session: { jwt_secret: TEST_JWT_SECRET },
          upstreams: [{ name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
          audit: {
            sinks: [
              { ...s3Common, name: 'cold', prefix: 'tollgate/audit', batch_size: 25, secret_access_key: '${TOLLGATE_S3_SECRET}' },
              { ...s3Common, name: 'forged', prefix: 'forged', secret_access_key: 'not-the-secret-key-of-this-access-key' },
            ],
          },
        },
        { TOLLGATE_S3_SECRET: SECRET_KEY },
      );
      gw = await startTestGateway({ config, db: tdb.db });
      token = gw.mint({ sub: 'user-3', email: 'dev3@example.com' });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
      await s3?.close();
    });

    const hasAll = async () => {
      const expected = await auditIds(tdb.db);
      const got = objectEntries(s3);
      return new Set(got.map((e) => String(e.id))).size >= expected.size ? { expected, got } : undefined;
    };

    it('writes every committed row once, in order, as hourly-keyed JSONL objects signed with SigV4', async () => {
      await send(120, 'first');
      const { expected, got } = await waitFor('the bucket holds every audit row', hasAll, { intervalMs: 100 });
      assert.equal(expected.size, 120);
      assertDelivered('s3', got, expected);
      assert.equal(got.length, expected.size, 'no row is in two objects');
      for (const e of got) auditEntrySchema.parse(e);
      for (const key of s3.objects.keys()) assert.match(key, /^tollgate\/audit\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{20}-\d{20}\.jsonl$/);
      assert.ok(s3.objects.size >= Math.ceil(120 / 25), `batches of at most 25 rows (${s3.objects.size} objects)`);
      const text = [...s3.objects.values()].join('');
      assert.doesNotMatch(text, /secret prompt/);
      assert.doesNotMatch(text, new RegExp(`sk-upstream-test|Bearer |${SECRET_KEY.replace(/\//g, '\\/')}`));
      assert.ok(![...s3.objects.keys()].some((k) => k.startsWith('forged/')), 'the wrongly signed sink stored nothing');
      const probe = await checkSinkReachable(gw.config.audit!.sinks[0]!, 2000);
      assert.deepEqual(probe, { name: 'audit sink cold', status: 'ok', detail: `s3: 127.0.0.1:${new URL(s3.url).port} accepts connections` });
      await waitFor('the cold sink has no lag', async () => {
        const s = await sink('cold');
        return s.shipping && s.lag_rows === 0 && s.last_error === null;
      });
    });

    it('refuses a sink signing with the wrong secret key: it retries and its lag shows in /healthz detail', async () => {
      const forged = await waitFor('the forged sink reports its backlog', async () => {
        const s = await sink('forged');
        return s.lag_rows >= 120 && s.consecutive_failures >= 2 && s.last_error ? s : undefined;
      });
      assert.match(forged.last_error!, /HTTP 403 \(SignatureDoesNotMatch\)/);
      assert.doesNotMatch(forged.last_error!, /not-the-secret-key/);
      assert.ok(s3.refused.length >= 2 && s3.refused.every((r) => r === 'signature mismatch'), JSON.stringify(s3.refused.slice(0, 3)));
    });

    it('keeps the backlog while the store answers 503 and drains it once the store is back', async () => {
      s3.failing = 503;
      const putsBefore = s3.puts;
      await send(60, 'outage');
      const down = await waitFor('the cold sink reports its backlog', async () => {
        const s = await sink('cold');
        return s.lag_rows > 0 && s.consecutive_failures >= 2 && s.last_error ? s : undefined;
      });
      assert.match(down.last_error!, /HTTP 503 \(SlowDown\)/);
      assert.equal(s3.puts, putsBefore, 'nothing was stored during the outage');
      s3.failing = undefined;
      const { expected, got } = await waitFor('the bucket holds every audit row again', hasAll, { intervalMs: 100 });
      assert.equal(expected.size, 180);
      assertDelivered('s3', got, expected);
      assert.equal(got.length, expected.size);
      await waitFor('lag back to zero', async () => {
        const s = await sink('cold');
        return s.lag_rows === 0 && s.consecutive_failures === 0;
      });
    });
  });
}

/**
 * Audit sinks end to end, on real PostgreSQL and on PGlite: a gateway ships every committed
 * audit row to an OTLP/HTTP protobuf receiver (decoded with protobufjs over the OTLP schema,
 * independent of the gateway's encoder), a loopback Splunk HEC with acks, a real rsyslog over
 * TCP (and TLS, CEF) and hourly JSONL files. Each row arrives exactly once, in chain order, without prompt text
 * or tokens; a sink outage keeps a backlog visible in /healthz detail and drains after; two
 * shippers on one database never both ship to a sink.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startOtlpReceiver, attributes, type OtlpReceiver } from '../support/otlp-receiver';
import { startSplunkHec, type SplunkHec } from '../support/splunk-hec';
import { startRsyslog, type Rsyslog } from '../support/rsyslog';
import { assertDelivered, auditIds, hecEntries, otlpEntries } from '../support/sink-checks';
import { waitFor } from '../support/wait';
import { startSinks } from '../../gateway-server/src/audit/sinks';
import { auditEntrySchema } from '../../gateway-server/src/protocol/audit';
import { checkCommand } from '../../gateway-server/src/ops/check-command';
import { freePort, writeConfig } from '../support/process';
import { makeTestCertificates } from '../support/test-ca';

const HEC_TOKEN = 'hec-token-5f0c7d1e-2b7a-4c8e-9d3f-0a1b2c3d4e5f';

function fileEntries(dir: string): Record<string, unknown>[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.flatMap((n) =>
    readFileSync(join(dir, n), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}

for (const kind of storeKinds()) {
  describe(`audit sinks (${kind})`, function () {
    this.timeout(300_000);
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    let otlp: OtlpReceiver;
    let hec: SplunkHec;
    let rsyslog: Rsyslog;
    let dir: string;
    let token: string;

    const send = async (n: number, tag: string) => {
      let next = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= n) return;
          const res = await fetch(`${gw.url}/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-request-id': `${tag}-${i}` },
            body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: `secret prompt ${tag} ${i}` }] }),
          });
          await res.arrayBuffer();
          assert.equal(res.status, 200);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    };
    const healthSinks = async () =>
      ((await (await fetch(`${gw.url}/healthz?detail`)).json()) as { audit_sinks: { name: string; lag_rows: number; shipping: boolean; last_error: string | null; consecutive_failures: number }[] }).audit_sinks;

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      otlp = await startOtlpReceiver();
      hec = await startSplunkHec({ token: HEC_TOKEN, acks: true });
      hec.ackDelayPolls = 1;
      rsyslog = await startRsyslog();
      dir = mkdtempSync(join(tmpdir(), 'tollgate-sink-files-'));
      const config = testConfig({
        upstreams: [{ name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        audit: {
          sinks: [
            { type: 'otlp', name: 'collector', url: otlp.url, batch_size: 50 },
            { type: 'splunk_hec', name: 'splunk', url: hec.url, token: HEC_TOKEN, ack: true, index: 'tollgate', batch_size: 40, max_backoff_seconds: 1 },
            { type: 'syslog', name: 'rsyslog', host: '127.0.0.1', port: rsyslog.port, format: 'json' },
            { type: 'file', name: 'archive', dir },
          ],
        },
      });
      gw = await startTestGateway({ config, db: tdb.db });
      token = gw.mint({ sub: 'user-7', email: 'dev7@example.com', groups: ['engineering'] });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
      await otlp?.close();
      await hec?.close();
      await rsyslog?.stop();
    });

    const everySinkHasAll = async () => {
      const expected = await auditIds(tdb.db);
      const sinks = {
        collector: otlpEntries(otlp),
        splunk: hecEntries(hec),
        rsyslog: rsyslog.messages().map((m) => JSON.parse(m.msg) as Record<string, unknown>),
        archive: fileEntries(dir),
      };
      const complete = Object.values(sinks).every((got) => new Set(got.map((e) => String(e.id))).size >= expected.size);
      return complete ? { expected, sinks } : undefined;
    };

    it('delivers every committed row to every sink exactly once, in chain order, in the documented schema', async () => {
      await send(300, 'first');
      const { expected, sinks } = await waitFor('every sink received every audit row', everySinkHasAll, { intervalMs: 100 });
      assert.equal(expected.size, 300);
      for (const [name, got] of Object.entries(sinks)) {
        assertDelivered(name, got, expected);
        for (const e of got) {
          const { _record, ...entry } = e as Record<string, unknown> & { _record?: unknown };
          auditEntrySchema.parse(entry);
        }
        const text = JSON.stringify(got);
        assert.doesNotMatch(text, /secret prompt/, `${name} received prompt text`);
        assert.doesNotMatch(text, /sk-upstream-test|Bearer /, `${name} received a credential`);
      }
      // OTLP: semantic-convention attributes on every record.
      const rec = (sinks.collector[0] as { _record: { attributes: { key: string; value: Record<string, unknown> }[]; severityNumber?: string } })._record;
      const attrs = attributes(rec.attributes);
      assert.equal(attrs['user.id'], 'user-7');
      assert.equal(attrs['user.email'], 'dev7@example.com');
      assert.equal(attrs['gen_ai.request.model'], 'claude-sonnet-4-6');
      assert.equal(attrs['http.response.status_code'], 200);
      assert.equal(attrs['gen_ai.usage.input_tokens'], 25);
      assert.equal(attrs['tollgate.audit.id'], String(sinks.collector[0]!.id));
      assert.ok(otlp.received.every((r) => r.headers['content-type'] === 'application/x-protobuf' && r.path === '/v1/logs'));
      // Splunk: batches of at most batch_size, sent on one channel, each acknowledged before the next.
      assert.ok(hec.batches.every((b) => b.length <= 40 && b.every((e) => e.index === 'tollgate' && e.sourcetype === 'tollgate:audit')));
      assert.ok(hec.batches.length >= Math.ceil(300 / 40));
      assert.equal(hec.channels.size, 1);
      await waitFor("every batch acknowledged", async () => (await healthSinks()).every((s) => s.lag_rows === 0));
      assert.ok(hec.ackPolls >= hec.batches.length * 2, `every batch waited for its ack (${hec.ackPolls} polls for ${hec.batches.length} batches)`);
      assert.equal(hec.unauthorized, 0);
      // rsyslog: MSGID is the event name.
      assert.ok(rsyslog.messages().every((m) => m.msgid === 'inference'));
      // Files: one per UTC hour of the rows.
      assert.ok(readdirSync(dir).every((n) => /^audit-\d{4}-\d{2}-\d{2}T\d{2}\.jsonl$/.test(n)));
      await waitFor('lag is zero for every sink', async () => (await healthSinks()).every((s) => s.shipping && s.lag_rows === 0 && s.last_error === null));
    });

    it('keeps a backlog while a sink is down, shows it in /healthz detail, and drains it once the sink is back', async () => {
      hec.failing = 503;
      await send(200, 'outage');
      const down = await waitFor('the splunk sink reports its backlog', async () => {
        const s = (await healthSinks()).find((x) => x.name === 'splunk')!;
        return s.lag_rows > 0 && s.consecutive_failures >= 2 && s.last_error ? s : undefined;
      });
      assert.match(down.last_error!, /HTTP 503/);
      assert.doesNotMatch(down.last_error!, new RegExp(HEC_TOKEN));
      // The other sinks are not held back by the dead one.
      const expected = await auditIds(tdb.db);
      await waitFor('the file sink has every row during the outage', () => new Set(fileEntries(dir).map((e) => e.id)).size === expected.size, { intervalMs: 100 });
      hec.failing = undefined;
      const done = await waitFor('every sink received every audit row', everySinkHasAll, { intervalMs: 100 });
      assert.equal(done.expected.size, 500);
      for (const [name, got] of Object.entries(done.sinks)) assertDelivered(name, got, done.expected);
      await waitFor('lag is back to zero', async () => (await healthSinks()).every((s) => s.lag_rows === 0 && s.consecutive_failures === 0));
    });

    it('tollgate-gateway check probes each sink and, with PostgreSQL, reports its backlog', async () => {
      const closed = await freePort();
      const path = writeConfig({
        listen: { host: '127.0.0.1', port: 0 },
        session: { jwt_secret: 'x'.repeat(32) },
        upstreams: [{ name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        ...(tdb.url ? { store: { postgres_url: tdb.url } } : {}),
        audit: {
          sinks: [
            { type: 'file', name: 'archive', dir },
            { type: 'syslog', name: 'rsyslog', host: '127.0.0.1', port: rsyslog.port },
            { type: 'splunk_hec', name: 'nowhere', url: `http://127.0.0.1:${closed}`, token: HEC_TOKEN },
          ],
        },
      });
      let text = '';
      const code = await checkCommand(['--config', path, '--timeout-ms', '2000'], { out: (t) => (text += t), err: (t) => (text += t) });
      assert.equal(code, 1, text);
      assert.match(text, /ok +audit sink archive +file: .* is writable/);
      assert.match(text, new RegExp(`ok +audit sink rsyslog +syslog: 127\\.0\\.0\\.1:${rsyslog.port} accepts connections`));
      assert.match(text, new RegExp(`FAIL +audit sink nowhere +splunk_hec: cannot reach 127\\.0\\.0\\.1:${closed}`));
      assert.doesNotMatch(text, new RegExp(HEC_TOKEN));
      if (tdb.url) {
        // The gateway shipped everything: zero waiting; a sink never shipped counts every row.
        assert.match(text, /ok +audit sink archive +0 rows waiting, \d+ delivered \(cursor moved /);
        const total = (await auditIds(tdb.db)).size;
        assert.match(text, new RegExp(`audit sink nowhere +${total} rows waiting, 0 delivered \\(never shipped yet\\)`));
      }
    });

    it('ships over TLS (RFC 5425) to rsyslog, trusting the configured CA, in CEF', async () => {
      const certs = makeTestCertificates({ ip: ['127.0.0.1'] });
      const tlsSyslog = await startRsyslog({ tls: certs });
      const set = startSinks(tdb.db, [{ type: 'syslog', name: 'tls-siem', host: '127.0.0.1', port: tlsSyslog.port, tls: { ca: certs.caPem }, format: 'cef', app_name: 'tollgate', batch_size: 500, max_backoff_seconds: 1 }], { fetch, onError() {}, pollMs: 50 });
      try {
        const expected = await auditIds(tdb.db);
        const msgs = await waitFor('rsyslog received every row over TLS', () => {
          const m = tlsSyslog.messages();
          return m.length >= expected.size ? m : undefined;
        }, { intervalMs: 100 });
        const ids = msgs.map((m) => /(?:^| )externalId=(\d+)(?: |$)/.exec(m.msg)?.[1]);
        assert.equal(new Set(ids).size, expected.size);
        assert.ok(ids.every((id) => id && expected.has(id)));
        assert.ok(msgs.every((m) => m.msg.startsWith('CEF:0|Tollgate|tollgate-gateway|')));
      } finally {
        await set.stop();
        await tlsSyslog.stop();
      }
    });

    it('ships to a sink from one process at a time: a second shipper on the same database waits for the lease', async () => {
      const dirA = mkdtempSync(join(tmpdir(), 'tollgate-lease-a-'));
      const dirB = mkdtempSync(join(tmpdir(), 'tollgate-lease-b-'));
      const opts = { fetch, onError() {}, pollMs: 50, leaseMs: 2000 };
      const a = startSinks(tdb.db, [{ type: 'file', name: 'leased', dir: dirA, batch_size: 100, max_backoff_seconds: 1 }], opts);
      const b = startSinks(tdb.db, [{ type: 'file', name: 'leased', dir: dirB, batch_size: 100, max_backoff_seconds: 1 }], opts);
      try {
        const expected = await auditIds(tdb.db);
        await waitFor('the leased sink received every row', () => fileEntries(dirA).length + fileEntries(dirB).length >= expected.size, { intervalMs: 50 });
        const shipping = [a, b].filter((s) => s.shippers[0]!.status.shipping);
        assert.equal(shipping.length, 1, 'exactly one shipper holds the lease');
        // The holder stops: the other takes over where the cursor stands, without resending.
        const [holder, other, holderDir, otherDir] = a.shippers[0]!.status.shipping ? [a, b, dirA, dirB] : [b, a, dirB, dirA];
        await holder.stop();
        await send(50, 'handover');
        const all = await auditIds(tdb.db);
        await waitFor('the second shipper took over', () => fileEntries(dirA).length + fileEntries(dirB).length >= all.size, { intervalMs: 50 });
        assert.ok(other.shippers[0]!.status.shipping);
        assert.ok(fileEntries(otherDir).length > 0);
        // Holder's rows first, then the successor's: together every row once, in chain order.
        assertDelivered('leased', [...fileEntries(holderDir), ...fileEntries(otherDir)], all);
      } finally {
        await a.stop();
        await b.stop();
      }
    });
  });
}

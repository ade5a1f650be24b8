/**
 * Audit sinks under a crash and an outage (gateway processes on real PostgreSQL): 10,000
 * requests; the Splunk HEC sink answers 503 for part of the run and the gateway is killed with
 * SIGKILL in the middle, then a new process takes over the sinks' leases. Every audit row then
 * reaches every sink (OTLP, Splunk HEC with acks, files) by id, in chain order; duplicates can
 * only come from the batch in flight when the process died, and are counted; lag returns to zero.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { startGatewayProcess, type GatewayProcess } from '../support/process';
import { TEST_JWT_SECRET } from '../support/gateway';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { startSplunkHec, type SplunkHec } from '../support/splunk-hec';
import { assertDelivered, auditIds, hecEntries, otlpEntries } from '../support/sink-checks';
import { waitFor } from '../support/wait';

// 10,000 by default; SINK_DURABILITY_TOTAL lowers it for a quick local run.
const TOTAL = Number(process.env.SINK_DURABILITY_TOTAL) || 10_000;
const BATCH = 200;
const HEC_TOKEN = 'hec-durability-token-0123456789abcdef';

function fileEntries(dir: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
}

describe('audit sinks through an outage and a SIGKILL (gateway processes, PostgreSQL)', function () {
  this.timeout(900_000);
  let mock: MockAnthropic;
  let pgdb: { url: string; drop(): Promise<void> };
  let otlp: OtlpReceiver;
  let hec: SplunkHec;
  let dir: string;
  const gateways: GatewayProcess[] = [];

  before(async () => {
    mock = await startMockAnthropic();
    pgdb = await createPostgresDatabase();
    otlp = await startOtlpReceiver();
    hec = await startSplunkHec({ token: HEC_TOKEN, acks: true });
    dir = mkdtempSync(join(tmpdir(), 'tollgate-sink-durability-'));
  });
  after(async () => {
    for (const g of gateways) await g.stop('SIGKILL');
    await mock?.close();
    await pgdb?.drop();
    await otlp?.close();
    await hec?.close();
  });

  const start = async () => {
    const g = await startGatewayProcess({
      session: { jwt_secret: TEST_JWT_SECRET },
      store: { postgres_url: pgdb.url },
      upstreams: [{ provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-test' } }],
      audit: {
        sinks: [
          { type: 'otlp', name: 'collector', url: otlp.url, batch_size: BATCH },
          { type: 'splunk_hec', name: 'splunk', url: hec.url, token: HEC_TOKEN, ack: true, batch_size: BATCH, max_backoff_seconds: 2 },
          { type: 'file', name: 'archive', dir, batch_size: BATCH },
        ],
      },
    });
    gateways.push(g);
    return g;
  };

  it('delivers every row to every sink, in order, with only the crash batch duplicated, and the lag returns to zero', async () => {
    let gw = await start();
    // Tokens name the gateway's URL as audience: mint again for the successor's port.
    const mint = (g: GatewayProcess) => new SessionTokens([TEST_JWT_SECRET], g.url, 3600).mint({ sub: 'u-sink', email: 'sink@example.com', groups: ['eng'] }).token;
    let token = mint(gw);
    let succeeded = 0;
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (succeeded < TOTAL) {
        const id = `sink-dur-${next++}`;
        try {
          const res = await fetch(`${gw.url}/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-request-id': id },
            body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
          });
          await res.arrayBuffer();
          if (res.status === 200) succeeded++;
          else failed++;
          if ((succeeded + failed) % 1000 === 0) process.stdout.write(`      … ${succeeded} succeeded, ${failed} failed (last status ${res.status})\n`);
        } catch {
          failed++;
          // The process is gone: wait for its successor instead of spinning on a dead port.
          await waitFor('a gateway answers', async () => (await fetch(`${gw.url}/healthz`).catch(() => undefined))?.ok, { intervalMs: 50, attempts: 10_000 });
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await waitFor('a fifth of the requests succeeded', () => succeeded >= TOTAL * 0.2, { intervalMs: 50, attempts: 100_000 });
    hec.failing = 503;
    await waitFor('half of the requests succeeded', () => succeeded >= TOTAL * 0.5, { intervalMs: 50, attempts: 100_000 });
    const old = gw;
    old.child.kill('SIGKILL');
    await old.exited;
    const successor = await start();
    token = mint(successor);
    gw = successor;
    await waitFor('70% of the requests succeeded', () => succeeded >= TOTAL * 0.7, { intervalMs: 50, attempts: 100_000 });
    hec.failing = undefined;
    await Promise.all(workers);
    process.stdout.write(`      requests done: ${succeeded} succeeded, ${failed} failed; waiting for the sinks\n`);

    const client = new pg.Client({ connectionString: pgdb.url });
    await client.connect();
    try {
      const expected = await auditIds(client);
      const collected = () => ({ collector: otlpEntries(otlp), splunk: hecEntries(hec), archive: fileEntries(dir) });
      await waitFor(
        'every sink holds every audit row',
        () => Object.values(collected()).every((got) => new Set(got.map((e) => String(e.id))).size >= expected.size),
        { intervalMs: 200, attempts: 3000 },
      );
      const health = await waitFor('the lag is zero for every sink', async () => {
        const d = (await (await fetch(`${gw.url}/healthz?detail`)).json()) as { audit_sinks: { name: string; lag_rows: number; shipping: boolean }[] };
        return d.audit_sinks.every((s) => s.shipping && s.lag_rows === 0) ? d.audit_sinks : undefined;
      }, { intervalMs: 200, attempts: 3000 });
      const figures: string[] = [];
      for (const [name, got] of Object.entries(collected())) {
        const dups = assertDelivered(name, got, expected, true);
        // Only what was in flight at the kill can arrive twice: at most one batch per sink.
        assert.ok(dups <= BATCH, `${name}: ${dups} duplicates, more than one batch`);
        figures.push(`${name} ${got.length} received, ${dups} duplicates`);
      }
      assert.ok(expected.size >= TOTAL, `${expected.size} rows for ${TOTAL} successes`);
      assert.ok(hec.batches.length > 0 && health.length === 3);
      process.stdout.write(`      ${expected.size} audit rows (${succeeded} succeeded, ${failed} failed requests); ${figures.join('; ')}; lag 0\n`);
    } finally {
      await client.end();
    }
  });
});

/**
 * Charge exactly, whatever the reply: JSON replies of 5 MB and 50 MB are charged their `usage`
 * (the Messages API writes it after the content), an upstream body that goes silent ends with
 * an SSE error event or a 504 after `timeouts.upstream_idle_ms`, pings keep a slow stream alive,
 * and the audit row of a cut or stalled reply records what the client got.
 */
import assert from 'node:assert/strict';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock';
import { SCRIPTED, bedrockConfig, rawPost } from '../support/cloud-fixtures';

// claude-sonnet-4-6 list price, $3 / $15 per million tokens: 1,000 in + 300 out = 3,000 + 4,500 µ$.
const USAGE = { inputTokens: 1000, outputTokens: 300 };
const PRICED = 7500;
const IDLE_MS = 1000;
const WRITE_KEY = 'write-key-0123456789abcdef0123456789abcdef';

interface AuditRow {
  status: number;
  outcome: string;
  reason: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_micros: string;
}

describe('reply integrity', function () {
  this.timeout(180_000);
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  let gw: TestGateway;

  before(async () => {
    mock = await startMockAnthropic();
    tdb = await createTestDatabase('postgres');
    gw = await startTestGateway({
      config: testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        timeouts: { upstream_idle_ms: IDLE_MS },
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      }),
      db: tdb.db,
    });
    // A cap puts the caller under the real spend gate, which prices every reply ($100 a day: never reached).
    const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: 'charged' }, amount: '10000', period: 'daily' }),
    });
    assert.equal(r.status, 200, await r.text());
    // Wait until this gateway's cache has the cap (its usage report lists it).
    for (;;) {
      const usage = await fetch(`${gw.url}/api/oauth/usage`, { headers: { authorization: `Bearer ${gw.mint({ sub: 'charged' })}` } });
      if (((await usage.json()) as { limits: unknown[] }).limits.length > 0) break;
      await new Promise((res) => setImmediate(res));
    }
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await mock?.close();
  });
  beforeEach(() => {
    mock.queue = [];
    mock.defaults = {};
  });

  const ask = (stream: boolean) =>
    fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.mint({ sub: 'charged' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 400, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });

  async function auditRow(requestId: string | null): Promise<AuditRow> {
    assert.ok(requestId, 'the response names its request id');
    const { rows } = await tdb.db.query<AuditRow>(
      "SELECT status, outcome, reason, input_tokens::int, output_tokens::int, cost_micros::text AS cost_micros FROM audit_log WHERE event = 'inference' AND request_id = $1",
      [requestId],
    );
    assert.equal(rows.length, 1, `one audit row for ${requestId}`);
    return rows[0]!;
  }

  for (const mb of [5, 50]) {
    it(`charges a ${mb} MB JSON reply exactly its usage`, async () => {
      const size = mb * 1_000_000;
      mock.defaults = { reply: USAGE, jsonBytes: size };
      const res = await ask(false);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(body.length, size);
      assert.deepEqual((JSON.parse(body.toString('utf8')) as { usage: unknown }).usage, {
        input_tokens: 1000,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 300,
      });
      const row = await auditRow(res.headers.get('request-id'));
      assert.deepEqual([row.status, row.outcome, row.input_tokens, row.output_tokens, row.cost_micros], [200, 'ok', 1000, 300, String(PRICED)]);
    });
  }

  it('ends a stream whose upstream goes silent with an SSE error event, and audits it as cut', async () => {
    mock.defaults = { reply: USAGE, hangAfterEvents: 3 };
    const res = await ask(true);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^event: message_start\n/);
    const last = text.trimEnd().split('\n\n').pop()!;
    const m = /^event: error\ndata: (.*)$/.exec(last);
    assert.ok(m, `the stream ends with an error event, got: ${last}`);
    const err = JSON.parse(m[1]!) as { type: string; error: { type: string; message: string } };
    assert.equal(err.type, 'error');
    assert.equal(err.error.type, 'api_error');
    assert.match(err.error.message, /timeouts\.upstream_idle_ms/);
    const row = await auditRow(res.headers.get('request-id'));
    // The client saw 200 headers, then the error event: the row keeps 200 and says how it ended.
    assert.deepEqual([row.status, row.outcome, row.reason, row.input_tokens], [200, 'upstream_cut', 'UPSTREAM_IDLE_TIMEOUT', 1000]);
  });

  it('answers a JSON reply whose upstream goes silent with a 504, and the audit row says 504', async () => {
    mock.defaults = { reply: USAGE, jsonHangAfterBytes: 40 };
    const res = await ask(false);
    assert.equal(res.status, 504);
    const body = (await res.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /timeouts\.upstream_idle_ms/);
    assert.equal(body.request_id, res.headers.get('request-id'));
    const row = await auditRow(res.headers.get('request-id'));
    assert.deepEqual([row.status, row.outcome, row.reason], [504, 'upstream_cut', 'UPSTREAM_IDLE_TIMEOUT']);
  });

  it('records the 502 the client got for a JSON reply cut short, not the upstream 200', async () => {
    mock.defaults = { reply: USAGE, jsonCutAfterBytes: 40 };
    const res = await ask(false);
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /upstream connection lost/);
    const row = await auditRow(res.headers.get('request-id'));
    assert.deepEqual([row.status, row.outcome, row.reason], [502, 'upstream_cut', 'ALL_UPSTREAMS_FAILED']);
  });

  it('keeps a stream alive through pings that arrive more often than the idle timeout', async () => {
    // 15 pings 100 ms apart: 1.5 s of reply, no gap near the 1 s idle limit.
    mock.defaults = { reply: USAGE, pings: { count: 15, intervalMs: 100 } };
    const res = await ask(true);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(text.match(/^event: ping$/gm)?.length, 16, 'every ping relayed (the scripted one and 15 more)');
    assert.match(text, /event: message_stop\n.*\n\n$/);
    assert.doesNotMatch(text, /event: error/);
    const row = await auditRow(res.headers.get('request-id'));
    assert.deepEqual([row.status, row.outcome, row.reason, row.output_tokens, row.cost_micros], [200, 'ok', null, 300, String(PRICED)]);
  });
});

describe('upstream idle timeout on a cloud upstream (Bedrock)', function () {
  this.timeout(120_000);
  let mockB: MockBedrock;
  let tdb: TestDatabase;
  let gw: TestGateway;

  before(async () => {
    mockB = await startMockBedrock();
    tdb = await createTestDatabase('pglite');
    gw = await startTestGateway({ config: testConfig({ upstreams: [bedrockConfig(mockB.url)], timeouts: { upstream_idle_ms: 300 } }), db: tdb.db });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await mockB?.close();
  });

  it('ends a Bedrock stream that goes silent with an SSE error event (its synthesised pings do not count)', async () => {
    // Silent for 10 s after five events; the gateway must give up after 0.3 s of it.
    mockB.queue = [{ pauseBeforeEvent: 5, pauseMs: 10_000, reply: SCRIPTED }];
    const params = { model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const res = await rawPost(gw, '/v1/messages', params);
    assert.equal(res.status, 200);
    const last = res.text.trimEnd().split('\n\n').pop()!;
    const m = /^event: error\ndata: (.*)$/.exec(last);
    assert.ok(m, `the stream ends with an error event, got: ${last}`);
    assert.match((JSON.parse(m[1]!) as { error: { message: string } }).error.message, /timeouts\.upstream_idle_ms/);
    assert.doesNotMatch(res.text, /event: message_stop/);
  });
});

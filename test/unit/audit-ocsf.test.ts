/**
 * The OCSF mapping (`schema: ocsf` on a sink): a representative set of audit entries, each mapped
 * and validated with ajv against the class schemas in test/data/ocsf/ (API Activity 6003,
 * Authentication 3002), plus the expected class, activity, status and where Tollgate's extras go.
 */
import assert from 'node:assert/strict';
import { toOcsf, eventBody } from '../../gateway-server/src/audit/ocsf';
import { hecEvents } from '../../gateway-server/src/audit/sinks/splunk-hec';
import { syslogFrame } from '../../gateway-server/src/audit/sinks/syslog';
import { toLogRecords } from '../../gateway-server/src/audit/sinks/otlp';
import { shippedEvents } from '../../gateway-server/src/audit/sinks/shipper';
import { ConfigError, resolveConfig } from '../../gateway-server/src/config/load';
import type { AuditEntry } from '../../gateway-server/src/protocol/audit';
import { assertOcsf } from '../support/ocsf';

const base: AuditEntry = {
  type: 'audit_entry',
  id: '1001',
  at: '2026-12-04T10:15:00.123Z',
  event: 'inference',
  request_id: 'req-9',
  principal: { sub: 'user-9', email: 'dev9@example.com', groups: ['eng', 'sec'] },
  actor: null,
  surface: 'claude-cli',
  session_id: 'sess-9',
  model: 'claude-sonnet-4-6',
  upstream: 'primary',
  status: 200,
  outcome: 'ok',
  reason: null,
  tokens: { input: 25, output: 11, cache_read: 0, cache_creation: 0 },
  cost_micros: '240',
  latency_ms: 12,
  detail: { operation: 'messages', stream: false },
  chain: 'host/1/ab',
  seq: '7',
  prev_hash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
};
const noRequest = { request_id: null, model: null, upstream: null, tokens: null, cost_micros: null, latency_ms: null };

/** name → [entry, class_uid, activity_id, status_id] */
const cases: Record<string, [AuditEntry, number, number, number]> = {
  'inference ok': [base, 6003, 1, 1],
  'inference blocked_spend': [{ ...base, id: '1002', status: 429, outcome: 'blocked_spend', reason: 'monthly budget of group eng exhausted', tokens: null, cost_micros: null }, 6003, 1, 2],
  'inference denied_policy': [{ ...base, id: '1003', status: 403, outcome: 'denied_policy', reason: 'model not allowed for group eng', tokens: null }, 6003, 1, 2],
  'sign-in success': [{ ...base, ...noRequest, id: '1004', event: 'session.mint', status: null, detail: null }, 3002, 1, 1],
  'sign-in failure without a subject': [{ ...base, ...noRequest, id: '1005', event: 'auth.denied', principal: null, session_id: null, surface: null, status: null, outcome: 'denied', reason: 'device authorization rate limit', detail: { ip: '192.0.2.7' } }, 3002, 1, 2],
  'session revoke': [{ ...base, ...noRequest, id: '1006', event: 'session.revoke', status: null, detail: null }, 3002, 2, 1],
  'admin limit upsert': [{ ...base, ...noRequest, id: '1007', event: 'admin.limit.upsert', principal: null, actor: 'admin-key:k1', surface: null, session_id: null, status: 200, detail: { group: 'eng', monthly_usd: 500 } }, 6003, 3, 1],
  'admin denied': [{ ...base, ...noRequest, id: '1008', event: 'admin.denied', principal: null, surface: null, session_id: null, status: 401, outcome: 'denied', reason: 'no admin key', detail: { path: '/v1/organizations/limits' } }, 6003, 99, 2],
  'audit read': [{ ...base, ...noRequest, id: '1009', event: 'admin.audit.read', principal: null, actor: 'oidc:auditor-1', surface: null, session_id: null, detail: { user_id: 'user-9' } }, 6003, 2, 1],
  'audit.seal checkpoint': [{ ...base, ...noRequest, id: '1010', event: 'audit.seal', principal: null, surface: null, session_id: null, status: null, detail: { seal: { kid: 'k1', seq: '1000', hash: 'c'.repeat(64), mac: 'd'.repeat(64) } } }, 6003, 99, 1],
};

describe('OCSF mapping of audit entries', () => {
  for (const [name, [entry, classUid, activityId, statusId]] of Object.entries(cases)) {
    it(`${name}: class ${classUid}, activity ${activityId}, valid against the class schema`, () => {
      const ev = toOcsf(entry);
      assertOcsf(ev, name);
      assert.equal(ev.class_uid, classUid);
      assert.equal(ev.category_uid, classUid === 6003 ? 6 : 3);
      assert.equal(ev.activity_id, activityId);
      assert.equal(ev.status_id, statusId);
      assert.equal(ev.time, Date.parse(entry.at));
      const meta = ev.metadata as { uid: string; event_code: string; product: { name: string; vendor_name: string } };
      assert.equal(meta.uid, entry.id);
      assert.equal(meta.event_code, entry.event);
      assert.deepEqual([meta.product.name, meta.product.vendor_name], ['Tollgate', 'Tollgate']);
      const unmapped = ev.unmapped as Record<string, unknown>;
      assert.deepEqual([unmapped.chain, unmapped.seq, unmapped.hash, unmapped.outcome], [entry.chain, entry.seq, entry.hash, entry.outcome]);
      if (entry.reason) assert.equal(ev.status_detail, entry.reason);
      if (entry.status !== null) assert.deepEqual(ev.http_response, { code: entry.status });
    });
  }

  it('puts the user, session, operation and usage where OCSF and SIEMs look for them', () => {
    const inf = toOcsf(base);
    assert.deepEqual(inf.actor, { user: { uid: 'user-9', email_addr: 'dev9@example.com', groups: [{ name: 'eng' }, { name: 'sec' }] }, session: { uid: 'sess-9' }, app_name: 'claude-cli' });
    assert.deepEqual(inf.api, { operation: 'messages', service: { name: 'primary' }, request: { uid: 'req-9' } });
    assert.deepEqual(inf.src_endpoint, { name: 'claude-cli' });
    assert.equal(inf.duration, 12);
    assert.deepEqual((inf.unmapped as Record<string, unknown>).tokens, base.tokens);
    const denied = toOcsf(cases['sign-in failure without a subject']![0]);
    assert.deepEqual(denied.user, { name: 'Unknown', type_id: 0, type: 'Unknown' });
    assert.deepEqual(denied.src_endpoint, { ip: '192.0.2.7' });
    const admin = toOcsf(cases['admin limit upsert']![0]);
    assert.deepEqual((admin.actor as { user: unknown }).user, { uid: 'admin-key:k1' });
    assert.equal((admin.api as { operation: string }).operation, 'admin.limit.upsert');
  });

  it('is what the OTLP, HEC and syslog sinks ship with schema: ocsf, and the entry itself without it', () => {
    const hec = JSON.parse(hecEvents(shippedEvents([base], 'ocsf'), { source: 's', sourcetype: 'st' })) as { event: Record<string, unknown> };
    assertOcsf(hec.event, 'HEC event');
    const frame = syslogFrame(shippedEvents([base], 'ocsf')[0]!, { format: 'json', app_name: 'tollgate' }).toString('utf8');
    const syslogEvent = JSON.parse(frame.slice(frame.indexOf(' - ') + 3)) as Record<string, unknown>;
    assertOcsf(syslogEvent, 'syslog message');
    const record = toLogRecords(shippedEvents([base], 'ocsf'), 0)[0]!;
    assertOcsf(JSON.parse(record.body as string) as Record<string, unknown>, 'OTLP log body');
    assert.deepEqual(eventBody(base, undefined), base);
    assert.deepEqual(eventBody(base, 'tollgate'), base);
  });

  it('the class schemas reject events missing required attributes or with a wrong category or type_uid', () => {
    const ev = toOcsf(base);
    const broken: Record<string, unknown>[] = [
      { ...ev, api: undefined },
      { ...ev, category_uid: 3 },
      { ...ev, type_uid: 600302 },
      { ...ev, metadata: { version: '1.3.0', product: { name: 'Tollgate' } } },
      { ...ev, prompt: 'hello' },
      { ...toOcsf(cases['sign-in success']![0]), user: {} },
    ];
    for (const b of broken) assert.throws(() => assertOcsf(JSON.parse(JSON.stringify(b)) as Record<string, unknown>), assert.AssertionError);
  });

  it('refuses schema: ocsf on a syslog sink in CEF with a sentence', () => {
    const config = (sink: Record<string, unknown>) => ({ listen: { host: '127.0.0.1' }, session: { jwt_secret: 'x'.repeat(32) }, upstreams: [{ provider: 'anthropic', auth: { api_key: 'k' } }], audit: { sinks: [sink] } });
    assert.throws(() => resolveConfig(config({ type: 'syslog', name: 'sl', host: 'h', port: 514, format: 'cef', schema: 'ocsf' }), {}), (err: unknown) => err instanceof ConfigError && /schema: ocsf needs format: json/.test(err.message));
    assert.throws(() => resolveConfig(config({ type: 'file', name: 'f', dir: '/tmp/x', schema: 'xml' }), {}), ConfigError);
    resolveConfig(config({ type: 'syslog', name: 'sl', host: 'h', port: 514, format: 'json', schema: 'ocsf' }), {});
  });
});

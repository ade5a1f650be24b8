/**
 * Audit sinks' wire formats, checked by hand-written parsers: RFC 5424 octet-counted frames,
 * CEF escaping, Splunk HEC event envelopes (source, sourcetype, index), the OTLP URL and the
 * OTLP/JSON encoding with custom headers, the ack timeout, and the configuration rules (unique
 * names, s3 keys in pairs), the s3 object keys and a session token signed into the S3 request.
 */
import assert from 'node:assert/strict';
import { syslogFrame, cefMessage } from '../../gateway-server/src/audit/sinks/syslog';
import { hecEvents, splunkHecDestination } from '../../gateway-server/src/audit/sinks/splunk-hec';
import { logsUrl, otlpDestination } from '../../gateway-server/src/audit/sinks/otlp';
import { hourFile } from '../../gateway-server/src/audit/sinks/file';
import { objectsFor, s3Destination } from '../../gateway-server/src/audit/sinks/s3';
import { shippedEvents } from '../../gateway-server/src/audit/sinks/shipper';
import { startS3Receiver, s3SignatureProblem } from '../support/s3-receiver';
import { ConfigError, resolveConfig } from '../../gateway-server/src/config/load';
import type { AuditEntry } from '../../gateway-server/src/protocol/audit';

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  type: 'audit_entry',
  id: '42',
  at: '2026-12-04T10:15:00.123Z',
  event: 'inference',
  request_id: 'req-1',
  principal: { sub: 'user-1', email: 'dev@example.com', groups: ['eng'] },
  actor: null,
  surface: 'claude-cli',
  session_id: 's-1',
  model: 'claude-sonnet-4-6',
  upstream: 'primary',
  status: 200,
  outcome: 'ok',
  reason: null,
  tokens: { input: 25, output: 11, cache_read: 0, cache_creation: 0 },
  cost_micros: '240',
  latency_ms: 12,
  detail: { operation: 'messages' },
  chain: 'host/1/ab',
  seq: '7',
  prev_hash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
  ...over,
});

function configProblems(sinks: unknown[]): string[] {
  try {
    resolveConfig({ listen: { host: '127.0.0.1' }, session: { jwt_secret: 'x'.repeat(32) }, upstreams: [{ provider: 'anthropic', auth: { api_key: 'k' } }], audit: { sinks } }, {});
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

const one = (e: AuditEntry) => shippedEvents([e])[0]!;

describe('audit sinks: wire formats', () => {
  it('frames syslog messages as RFC 5424 with octet counting (app_name, facility log audit, MSGID = event)', () => {
    const frame = syslogFrame(one(entry({ detail: { note: 'héllo wörld' } })), { format: 'json', app_name: 'tollgate-eu' });
    const text = frame.toString('utf8');
    const sp = text.indexOf(' ');
    const len = Number(text.slice(0, sp));
    assert.equal(len, frame.length - sp - 1, 'the count is the message length in bytes, not characters');
    const m = /^<(\d+)>1 (\S+) (\S+) (\S+) (\d+) (\S+) - (.*)$/s.exec(text.slice(sp + 1));
    assert.ok(m, text);
    assert.equal(Number(m[1]), 13 * 8 + 6);
    assert.equal(m[2], '2026-12-04T10:15:00.123Z');
    assert.equal(m[4], 'tollgate-eu');
    assert.equal(m[6], 'inference');
    assert.deepEqual(JSON.parse(m[7]!), entry({ detail: { note: 'héllo wörld' } }));
    const denied = syslogFrame(one(entry({ outcome: 'denied_policy' })), { format: 'json', app_name: 'x' }).toString();
    assert.match(denied, /^\d+ <108>1 /);
  });

  it('writes CEF with escaped header and extension values', () => {
    const cef = cefMessage(entry({ event: 'admin|odd', reason: 'a=b\\c\nd', outcome: 'denied' }));
    const header = cef.split(/(?<!\\)\|/);
    assert.equal(header[0], 'CEF:0');
    assert.equal(header[1], 'Tollgate');
    assert.equal(header[4], 'admin\\|odd');
    assert.equal(header[6], '6');
    assert.match(header[7]!, /(^| )reason=a\\=b\\\\c\\nd( |$)/);
    assert.match(header[7]!, /(^| )suser=user-1( |$)/);
    assert.match(header[7]!, /(^| )externalId=42( |$)/);
    assert.match(header[7]!, /(^| )rt=1796379300123( |$)/);
  });

  it('wraps Splunk HEC events with time, source, sourcetype and index', () => {
    const body = hecEvents(shippedEvents([entry(), entry({ id: '43' })]), { source: 'gw-eu', sourcetype: 'tollgate:audit', index: 'security' });
    const events = body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(events.length, 2);
    assert.deepEqual(Object.keys(events[0]!), ['time', 'source', 'sourcetype', 'index', 'event']);
    assert.equal(events[0]!.time, 1796379300.123);
    assert.equal(events[0]!.source, 'gw-eu');
    assert.equal((events[1]!.event as AuditEntry).id, '43');
    assert.ok(!('index' in (JSON.parse(hecEvents(shippedEvents([entry()]), { source: 's', sourcetype: 't' })) as object)));
  });

  it('gives up waiting for a Splunk ack after ack_timeout_seconds, so the batch is resent', async () => {
    const calls: string[] = [];
    const fake = (async (url: string) => {
      calls.push(new URL(url).pathname);
      return new Response(url.endsWith('/ack') ? '{"acks":{"0":false}}' : '{"text":"Success","code":0,"ackId":0}', { status: 200 });
    }) as unknown as typeof fetch;
    const dest = splunkHecDestination({ url: 'http://hec.invalid:8088/', token: 't', source: 's', sourcetype: 't', ack: true, ack_timeout_seconds: 1 }, fake, 50);
    await assert.rejects(dest.deliver(shippedEvents([entry()])), /did not acknowledge batch 0 within 1 s/);
    assert.equal(calls[0], '/services/collector/event');
    assert.ok(calls.slice(1).every((c) => c === '/services/collector/ack') && calls.length > 2);
  });

  it('posts OTLP/JSON to /v1/logs with the configured headers when encoding is json', async () => {
    assert.equal(logsUrl('http://c:4318'), 'http://c:4318/v1/logs');
    assert.equal(logsUrl('http://c:4318/'), 'http://c:4318/v1/logs');
    assert.equal(logsUrl('https://c/otlp/v1/logs'), 'https://c/otlp/v1/logs');
    let seen: { url: string; headers: Record<string, string>; body: string } | undefined;
    const fake = (async (url: string, init: RequestInit) => {
      seen = { url, headers: init.headers as Record<string, string>, body: Buffer.from(init.body as Uint8Array).toString('utf8') };
      return new Response('{}', { status: 200 });
    }) as unknown as typeof fetch;
    await otlpDestination({ url: 'http://c:4318', headers: { 'x-scope-orgid': 'security' }, encoding: 'json' }, fake).deliver(shippedEvents([entry()]));
    assert.equal(seen!.url, 'http://c:4318/v1/logs');
    assert.equal(seen!.headers['x-scope-orgid'], 'security');
    assert.equal(seen!.headers['content-type'], 'application/json');
    const req = JSON.parse(seen!.body) as { resourceLogs: { scopeLogs: { scope: { name: string }; logRecords: { body: { stringValue: string }; eventName: string }[] }[] }[] };
    const lr = req.resourceLogs[0]!.scopeLogs[0]!;
    assert.equal(lr.scope.name, 'tollgate.audit');
    assert.equal(lr.logRecords[0]!.eventName, 'tollgate.audit.inference');
    assert.deepEqual(JSON.parse(lr.logRecords[0]!.body.stringValue), entry());
  });

  it('splits an s3 batch by UTC hour into objects keyed by zero-padded first and last id', () => {
    const objs = objectsFor('/audit/', shippedEvents([entry({ id: '9', at: '2026-12-04T10:59:59.900Z' }), entry({ id: '10', at: '2026-12-04T11:00:00.100Z' }), entry({ id: '11', at: '2026-12-04T11:20:00.000Z' })]));
    assert.deepEqual(
      objs.map(([k]) => k),
      ['audit/2026/12/04/10/00000000000000000009-00000000000000000009.jsonl', 'audit/2026/12/04/11/00000000000000000010-00000000000000000011.jsonl'],
    );
    assert.deepEqual(objs[1]![1].trimEnd().split('\n').map((l) => (JSON.parse(l) as AuditEntry).id), ['10', '11']);
    assert.equal(objectsFor('', shippedEvents([entry()]))[0]![0], '2026/12/04/10/00000000000000000042-00000000000000000042.jsonl');
  });

  it('an s3 sink with schema: ocsf writes OCSF events (API Activity for an inference row)', () => {
    const [[, body]] = objectsFor('audit', shippedEvents([entry()], 'ocsf')) as [[string, string]];
    const event = JSON.parse(body.trimEnd()) as { class_uid: number; category_uid: number; unmapped?: { id?: string } };
    assert.equal(event.class_uid, 6003);
    assert.equal(event.category_uid, 6);
    const [[, plain]] = objectsFor('audit', shippedEvents([entry()])) as [[string, string]];
    assert.deepEqual(JSON.parse(plain.trimEnd()), entry(), 'without schema the entry goes as is');
  });

  it('signs an s3 PUT with temporary credentials (session_token) that the independent SigV4 check accepts', async () => {
    const creds = { accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', region: 'us-east-1' };
    const s3 = await startS3Receiver({ bucket: 'b', ...creds });
    try {
      const cfg = { bucket: 'b', region: 'us-east-1', endpoint: s3.url, force_path_style: true, prefix: 'p', access_key_id: 'ASIATEMP', secret_access_key: 'temp-secret', session_token: 'sts-token-1' };
      const dest = s3Destination(cfg);
      await dest.deliver(shippedEvents([entry()]));
      await dest.close();
      assert.deepEqual([...s3.objects.keys()], ['p/2026/12/04/10/00000000000000000042-00000000000000000042.jsonl']);
      assert.deepEqual(s3.sessionTokens, ['sts-token-1']);
      assert.deepEqual(s3.refused, []);
      // The oracle is not a rubber stamp: the same request with a different body or secret fails.
      const headers = ['host', 'x', 'x-amz-date', '20261204T101500Z', 'x-amz-content-sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'];
      const signed = 'AWS4-HMAC-SHA256 Credential=ASIATEMP/20261204/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=' + '0'.repeat(64);
      assert.equal(s3SignatureProblem('PUT', '/b/k', [...headers, 'authorization', signed], Buffer.from(''), creds), 'signature mismatch');
      assert.equal(s3SignatureProblem('PUT', '/b/k', [...headers, 'authorization', signed], Buffer.from('x'), creds), 'x-amz-content-sha256 does not match the body');
    } finally {
      await s3.close();
    }
  });

  it('names hourly files by the UTC hour of the row', () => {
    assert.equal(hourFile('2026-12-04T10:15:00.123Z'), 'audit-2026-12-04T10.jsonl');
  });
});

describe('audit sinks: configuration', () => {
  it('accepts an s3 sink on the default credential chain, refuses half a key pair', () => {
    assert.deepEqual(configProblems([{ type: 's3', name: 'cold', bucket: 'audit' }]), []);
    assert.match(configProblems([{ type: 's3', name: 'cold', bucket: 'audit', access_key_id: 'AKIA' }]).join('\n'), /set both access_key_id and secret_access_key, or neither/);
  });

  it('refuses duplicate sink names, bad app_name and unknown keys', () => {
    assert.match(configProblems([{ type: 'file', name: 'a', dir: '/x' }, { type: 'file', name: 'a', dir: '/y' }]).join('\n'), /names must be unique/);
    assert.match(configProblems([{ type: 'syslog', name: 's', host: 'h', port: 514, app_name: 'has space' }]).join('\n'), /app_name is 1-48 printable ASCII/);
    assert.match(configProblems([{ type: 'syslog', name: 's', host: 'h', port: 514, tls: { ca: 'pem', servername: 'siem', verify: false } }]).join('\n'), /verify/);
    assert.deepEqual(configProblems([{ type: 'syslog', name: 's', host: 'h', port: 6514, tls: { ca: 'pem', servername: 'siem.example.com' } }]), []);
  });
});

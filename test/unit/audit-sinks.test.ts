/**
 * Audit sinks' wire formats, checked by hand-written parsers: RFC 5424 octet-counted frames,
 * CEF escaping, Splunk HEC event envelopes (source, sourcetype, index), the OTLP URL and the
 * OTLP/JSON encoding with custom headers, the ack timeout, and the configuration rules (unique
 * names, `type: s3` refused with a sentence).
 */
import assert from 'node:assert/strict';
import { syslogFrame, cefMessage } from '../../gateway-server/src/audit/sinks/syslog';
import { hecEvents, splunkHecDestination } from '../../gateway-server/src/audit/sinks/splunk-hec';
import { logsUrl, otlpDestination } from '../../gateway-server/src/audit/sinks/otlp';
import { hourFile } from '../../gateway-server/src/audit/sinks/file';
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

describe('audit sinks: wire formats', () => {
  it('frames syslog messages as RFC 5424 with octet counting (app_name, facility log audit, MSGID = event)', () => {
    const frame = syslogFrame(entry({ detail: { note: 'héllo wörld' } }), { format: 'json', app_name: 'tollgate-eu' });
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
    const denied = syslogFrame(entry({ outcome: 'denied_policy' }), { format: 'json', app_name: 'x' }).toString();
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
    const body = hecEvents([entry(), entry({ id: '43' })], { source: 'gw-eu', sourcetype: 'tollgate:audit', index: 'security' });
    const events = body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(events.length, 2);
    assert.deepEqual(Object.keys(events[0]!), ['time', 'source', 'sourcetype', 'index', 'event']);
    assert.equal(events[0]!.time, 1796379300.123);
    assert.equal(events[0]!.source, 'gw-eu');
    assert.equal((events[1]!.event as AuditEntry).id, '43');
    assert.ok(!('index' in (JSON.parse(hecEvents([entry()], { source: 's', sourcetype: 't' })) as object)));
  });

  it('gives up waiting for a Splunk ack after ack_timeout_seconds, so the batch is resent', async () => {
    const calls: string[] = [];
    const fake = (async (url: string) => {
      calls.push(new URL(url).pathname);
      return new Response(url.endsWith('/ack') ? '{"acks":{"0":false}}' : '{"text":"Success","code":0,"ackId":0}', { status: 200 });
    }) as unknown as typeof fetch;
    const dest = splunkHecDestination({ url: 'http://hec.invalid:8088/', token: 't', source: 's', sourcetype: 't', ack: true, ack_timeout_seconds: 1 }, fake, 50);
    await assert.rejects(dest.deliver([entry()]), /did not acknowledge batch 0 within 1 s/);
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
    await otlpDestination({ url: 'http://c:4318', headers: { 'x-scope-orgid': 'security' }, encoding: 'json' }, fake).deliver([entry()]);
    assert.equal(seen!.url, 'http://c:4318/v1/logs');
    assert.equal(seen!.headers['x-scope-orgid'], 'security');
    assert.equal(seen!.headers['content-type'], 'application/json');
    const req = JSON.parse(seen!.body) as { resourceLogs: { scopeLogs: { scope: { name: string }; logRecords: { body: { stringValue: string }; eventName: string }[] }[] }[] };
    const lr = req.resourceLogs[0]!.scopeLogs[0]!;
    assert.equal(lr.scope.name, 'tollgate.audit');
    assert.equal(lr.logRecords[0]!.eventName, 'tollgate.audit.inference');
    assert.deepEqual(JSON.parse(lr.logRecords[0]!.body.stringValue), entry());
  });

  it('names hourly files by the UTC hour of the row', () => {
    assert.equal(hourFile('2026-12-04T10:15:00.123Z'), 'audit-2026-12-04T10.jsonl');
  });
});

describe('audit sinks: configuration', () => {
  it('refuses type s3 at boot with a sentence', () => {
    const p = configProblems([{ type: 's3', bucket: 'audit' }]);
    assert.equal(p.length, 1, JSON.stringify(p));
    assert.match(p[0]!, /^audit\.sinks\.0\.type: is not supported: Tollgate does not ship audit rows to object storage yet; use a `file` sink/);
  });

  it('refuses duplicate sink names, bad app_name and unknown keys', () => {
    assert.match(configProblems([{ type: 'file', name: 'a', dir: '/x' }, { type: 'file', name: 'a', dir: '/y' }]).join('\n'), /names must be unique/);
    assert.match(configProblems([{ type: 'syslog', name: 's', host: 'h', port: 514, app_name: 'has space' }]).join('\n'), /app_name is 1-48 printable ASCII/);
    assert.match(configProblems([{ type: 'syslog', name: 's', host: 'h', port: 514, tls: { ca: 'pem', servername: 'siem', verify: false } }]).join('\n'), /verify/);
    assert.deepEqual(configProblems([{ type: 'syslog', name: 's', host: 'h', port: 6514, tls: { ca: 'pem', servername: 'siem.example.com' } }]), []);
  });
});

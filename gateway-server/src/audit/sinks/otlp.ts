/**
 * OTLP logs sink: each audit entry is one log record (OTLP/HTTP, protobuf or JSON) with
 * OpenTelemetry semantic-convention attributes, so a Collector pipeline can route on them; the
 * body is the entry itself as JSON (docs/audit.md, "Event schema").
 */
import { ProtobufLogsSerializer, JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { AuditEntry } from '../../protocol/audit';
import { GATEWAY_VERSION } from '../../version';
import type { Destination, ShippedEvent } from './shipper';
import { httpFailure } from './http';

type LogRecords = Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0];

// SeverityNumber of the logs data model: INFO 9, WARN 13.
const INFO = 9;
const WARN = 13;

const RESOURCE = resourceFromAttributes({ 'service.name': 'tollgate-gateway', 'service.version': GATEWAY_VERSION });
const SCOPE = { name: 'tollgate.audit', version: GATEWAY_VERSION };

export function logsUrl(base: string): string {
  return /\/v1\/logs\/?$/.test(new URL(base).pathname) ? base : `${base.replace(/\/+$/, '')}/v1/logs`;
}

function hrTime(ms: number): [number, number] {
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
}

/** Semantic-convention attributes first (user.*, session.id, http.*, gen_ai.*, error.type), then ours under tollgate.*. */
export function entryAttributes(e: AuditEntry): Record<string, string | number | string[]> {
  const a: Record<string, string | number | string[]> = {
    'tollgate.audit.id': e.id,
    'tollgate.audit.chain': e.chain,
    'tollgate.audit.seq': e.seq,
    'tollgate.audit.hash': e.hash,
    'tollgate.audit.outcome': e.outcome,
  };
  if (e.principal) {
    a['user.id'] = e.principal.sub;
    if (e.principal.email) a['user.email'] = e.principal.email;
    if (e.principal.groups) a['user.roles'] = e.principal.groups;
  }
  if (e.session_id) a['session.id'] = e.session_id;
  if (e.request_id) a['tollgate.request_id'] = e.request_id;
  if (e.actor) a['tollgate.actor'] = e.actor;
  if (e.status !== null) a['http.response.status_code'] = e.status;
  if (e.model) a['gen_ai.request.model'] = e.model;
  if (e.upstream) a['tollgate.upstream'] = e.upstream;
  if (e.tokens) {
    a['gen_ai.usage.input_tokens'] = e.tokens.input;
    a['gen_ai.usage.output_tokens'] = e.tokens.output;
  }
  if (e.cost_micros !== null) a['tollgate.cost_micros'] = e.cost_micros;
  if (e.outcome !== 'ok') a['error.type'] = e.outcome;
  return a;
}

export function toLogRecords(events: ShippedEvent[], now = Date.now()): LogRecords {
  return events.map(({ entry: e, body }) => ({
    hrTime: hrTime(Date.parse(e.at)),
    hrTimeObserved: hrTime(now),
    severityNumber: e.outcome === 'ok' ? INFO : WARN,
    severityText: e.outcome === 'ok' ? 'INFO' : 'WARN',
    eventName: `tollgate.audit.${e.event}`,
    body: JSON.stringify(body),
    attributes: entryAttributes(e),
    droppedAttributesCount: 0,
    resource: RESOURCE,
    instrumentationScope: SCOPE,
  })) as unknown as LogRecords;
}

export function otlpDestination(cfg: { url: string; headers: Record<string, string>; encoding: 'protobuf' | 'json'}, fetchImpl: typeof fetch = fetch): Destination {
  const url = logsUrl(cfg.url);
  const serializer = cfg.encoding === 'json' ? JsonLogsSerializer : ProtobufLogsSerializer;
  const contentType = cfg.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  return {
    async deliver(events) {
      const body = serializer.serializeRequest(toLogRecords(events, Date.now()));
      if (!body) throw new Error('the OTLP serializer produced no body');
      const res = await fetchImpl(url, {
        method: 'POST',
        headers: { ...cfg.headers, 'content-type': contentType },
        body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) as unknown as BodyInit,
        signal: AbortSignal.timeout(30_000),
      });
      // The body tells partial success; any 2xx means the collector took the batch.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw httpFailure('OTLP collector', url, res.status);
    },
    async close() {},
  };
}

/**
 * Splunk HTTP Event Collector sink: one POST to /services/collector/event per batch (events
 * concatenated, as HEC's batch format wants), `Authorization: Splunk <token>`. With `ack`, the
 * batch counts as delivered only when /services/collector/ack reports its ackId indexed; until
 * then the cursor stays put and a timeout resends it (Splunk may then hold a duplicate, which
 * searches drop by the event's `id`).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Destination, ShippedEvent } from './shipper';
import { httpFailure } from './http';

const ackReply = z.object({ ackId: z.number().int() }).passthrough();
const ackStatus = z.object({ acks: z.record(z.string(), z.boolean()) }).passthrough();

export interface SplunkHecConfig {
  url: string;
  token: string;
  index?: string;
  source: string;
  sourcetype: string;
  ack: boolean;
  ack_timeout_seconds: number;
}

export function hecEvents(events: ShippedEvent[], cfg: Pick<SplunkHecConfig, 'index' | 'source' | 'sourcetype'>): string {
  return events
    .map(({ entry, body }) => JSON.stringify({ time: Date.parse(entry.at) / 1000, source: cfg.source, sourcetype: cfg.sourcetype, ...(cfg.index ? { index: cfg.index } : {}), event: body }))
    .join('\n');
}

export function splunkHecDestination(cfg: SplunkHecConfig, fetchImpl: typeof fetch = fetch, pollMs = 500): Destination {
  const base = cfg.url.replace(/\/+$/, '');
  // One channel per process: acks are scoped to the channel that sent the events.
  const channel = randomUUID();
  const headers = { authorization: `Splunk ${cfg.token}`, 'x-splunk-request-channel': channel };
  const post = async (path: string, body: string) => {
    const url = `${base}${path}`;
    const res = await fetchImpl(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30_000) });
    const text = await res.text().catch(() => '');
    if (!res.ok) throw httpFailure('Splunk HEC', url, res.status);
    return text;
  };
  const waitForAck = async (ackId: number) => {
    const deadline = Date.now() + cfg.ack_timeout_seconds * 1000;
    for (;;) {
      const status = ackStatus.safeParse(JSON.parse((await post('/services/collector/ack', JSON.stringify({ acks: [ackId] }))) || '{}'));
      if (status.success && status.data.acks[String(ackId)] === true) return;
      if (Date.now() >= deadline) throw new Error(`Splunk HEC did not acknowledge batch ${ackId} within ${cfg.ack_timeout_seconds} s; it is sent again`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
  return {
    async deliver(events) {
      const text = await post('/services/collector/event', hecEvents(events, cfg));
      if (!cfg.ack) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const reply = ackReply.safeParse(parsed);
      if (!reply.success) throw new Error('Splunk HEC answered without an ackId: enable indexer acknowledgement on the token, or set ack: false');
      await waitForAck(reply.data.ackId);
    },
    async close() {},
  };
}

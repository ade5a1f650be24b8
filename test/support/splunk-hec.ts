/**
 * A loopback Splunk HTTP Event Collector: checks the `Splunk <token>` header, parses each
 * batch (concatenated JSON events) into its events, and with acks on hands out ackIds per
 * request channel and reports them indexed on /services/collector/ack (optionally only after a
 * number of polls). Answers with a chosen failure status while `failing` is set.
 */
import { createServer } from 'node:http';
import { listenLoopback } from './loopback-server';

export interface HecEvent {
  time: number;
  source: string;
  sourcetype: string;
  index?: string;
  event: Record<string, unknown>;
}

export interface SplunkHec {
  url: string;
  /** Accepted batches, each the events of one POST, in arrival order. */
  batches: HecEvent[][];
  /** Requests refused for a wrong or missing token. */
  unauthorized: number;
  /** While set, /services/collector/event answers this status (e.g. 503) and keeps nothing. */
  failing?: number;
  /** Ack polls answered `false` before an ackId reports true. */
  ackDelayPolls: number;
  ackPolls: number;
  channels: Set<string>;
  close(): Promise<void>;
}

/** HEC's batch body: JSON objects one after another (newlines optional). */
export function parseConcatenatedJson(text: string): HecEvent[] {
  const out: HecEvent[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)) as HecEvent);
  }
  return out;
}

export async function startSplunkHec(opts: { token: string; acks?: boolean }): Promise<SplunkHec> {
  const pending = new Map<string, number>();
  let nextAck = 0;
  const state: Omit<SplunkHec, 'url' | 'close'> = { batches: [], unauthorized: 0, ackDelayPolls: 0, ackPolls: 0, channels: new Set() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Splunk ${opts.token}`) {
        state.unauthorized++;
        return reply(401, { text: 'Invalid token', code: 4 });
      }
      const channel = String(req.headers['x-splunk-request-channel'] ?? '');
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/services/collector/event' && req.method === 'POST') {
        if (state.failing) return reply(state.failing, { text: 'Server is busy', code: 9 });
        if (opts.acks && !channel) return reply(400, { text: 'Data channel is missing', code: 10 });
        state.batches.push(parseConcatenatedJson(text));
        if (!opts.acks) return reply(200, { text: 'Success', code: 0 });
        state.channels.add(channel);
        const ackId = nextAck++;
        pending.set(`${channel}/${ackId}`, 0);
        return reply(200, { text: 'Success', code: 0, ackId });
      }
      if (req.url === '/services/collector/ack' && req.method === 'POST' && opts.acks) {
        const ids = (JSON.parse(text) as { acks: number[] }).acks;
        const acks: Record<string, boolean> = {};
        for (const id of ids) {
          const key = `${channel}/${id}`;
          const polls = pending.get(key);
          state.ackPolls++;
          if (polls === undefined) acks[id] = false;
          else if (polls >= state.ackDelayPolls) acks[id] = true;
          else {
            acks[id] = false;
            pending.set(key, polls + 1);
          }
        }
        return reply(200, { acks });
      }
      reply(404, { text: 'The requested URL was not found on this server.', code: 404 });
    });
  });
  const lb = await listenLoopback(server);
  return Object.assign(state, { url: lb.url, close: () => lb.close() }) as SplunkHec;
}

/**
 * A loopback stand-in for api.anthropic.com that speaks the real wire format (SSE events
 * message_start … message_stop, JSON messages, count_tokens), records every request it
 * receives, and can inject faults: error statuses, a slow first byte, a mid-stream cut.
 *
 * count_tokens answers deterministically and consistently with the usage the mock reports, as
 * the real API's count is the prompt it bills: `mockTokenCount` (mock-prompt-cache.ts: about one
 * token per 4 bytes of the prompt's JSON, cache_control markers not counted), raised to the prompt
 * usage the next scripted reply will report. Count requests never consume `queue`. A Messages
 * reply whose prompt usage exceeds what count_tokens answered for the same prompt (markers aside)
 * is recorded in `overCount`, so a test can assert the mock stayed honest.
 *
 * With `promptCache: true` the prompt side of every Messages reply is not scripted but computed by
 * a deterministic prompt cache (mock-prompt-cache.ts): input, cache write and cache read tokens
 * from the request's cache_control breakpoints and what earlier requests wrote; each is recorded
 * in `promptUsages`. Only the output side comes from the scripted reply.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenLoopback, recordRequest, type RecordedRequest } from './loopback-server';
import { scriptedEvents, scriptedMessage, sseEvent, type ScriptedReply } from '../../gateway-server/src/routing/sse';
import { MockPromptCache, mockTokenCount, promptUnits, type PromptUsage } from './mock-prompt-cache';

export { mockTokenCount };

export type { RecordedRequest } from './loopback-server';

export interface Behaviour {
  /** Respond with this status and Anthropic error envelope instead of a reply. */
  status?: number;
  errorType?: string;
  errorMessage?: string;
  extraHeaders?: Record<string, string>;
  /** Wait this long before sending any byte. */
  firstByteDelayMs?: number;
  /** Delay between SSE events. */
  eventDelayMs?: number;
  /** Destroy the socket after this many SSE events. */
  cutAfterEvents?: number;
  /** Keep the connection open after this many events until the client goes away. */
  hangAfterEvents?: number;
  /** Stop after this many events until `release` settles: a stream that cannot end before the test says so. */
  holdAfterEvents?: number;
  release?: Promise<unknown>;
  reply?: Partial<ScriptedReply>;
  /** Answer at most the `max_tokens` received (stop_reason max_tokens), as the real API does. */
  honourMaxTokens?: boolean;
  /** Pad the JSON reply's text so the whole body is at least this many bytes (usage stays last). */
  jsonBytes?: number;
  /** JSON replies: send this many bytes of the body, then stay silent with the socket open. */
  jsonHangAfterBytes?: number;
  /** JSON replies: send this many bytes of the body, then destroy the socket. */
  jsonCutAfterBytes?: number;
  /** Streams: after message_start, send `count` ping events `intervalMs` apart. */
  pings?: { count: number; intervalMs: number };
}

export interface MockAnthropic {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Behaviour for the next requests, consumed in order; then `defaults`. */
  queue: Behaviour[];
  defaults: Behaviour;
  /** Bytes of the last SSE body written, per request index. */
  sentBodies: Buffer[];
  /** Resolves when a request's socket closes (disconnect tests). */
  closedRequests: number;
  /** Messages replies that reported more prompt tokens than count_tokens answered for that prompt. */
  overCount: { index: number; usage: number; count: number }[];
  /** With `promptCache`: the prompt usage reported for each Messages request, by request index. */
  promptUsages: (PromptUsage | undefined)[];
  /** With `promptCache`: forget every cached prefix (as after the cache's TTL). */
  clearPromptCache(): void;
  close(): Promise<void>;
}

export const DEFAULT_REPLY: ScriptedReply = {
  id: 'msg_mock_0001',
  model: 'claude-sonnet-4-6',
  text: 'Hello from the mock upstream.',
  inputTokens: 25,
  outputTokens: 11,
};

export async function startMockAnthropic(opts: { apiKey?: string; promptCache?: boolean } = {}): Promise<MockAnthropic> {
  const state = {
    requests: [] as RecordedRequest[],
    queue: [] as Behaviour[],
    defaults: {} as Behaviour,
    sentBodies: [] as Buffer[],
    closedRequests: 0,
    overCount: [] as MockAnthropic['overCount'],
    promptUsages: [] as MockAnthropic['promptUsages'],
  };
  let cache = opts.promptCache ? new MockPromptCache() : undefined;
  /** count_tokens answers by prompt (the counted fields' JSON). */
  const counted = new Map<string, number>();
  let counter = 0;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    recordRequest(req, state.requests, (index, json) => {
      res.on('close', () => {
        state.closedRequests++;
      });
      const isCount = (req.url ?? '').includes('/count_tokens');
      const b = (isCount ? undefined : state.queue.shift()) ?? state.defaults;
      void respond(req, res, json, b, index);
    });
  });

  async function respond(req: IncomingMessage, res: ServerResponse, json: Record<string, unknown> | undefined, b: Behaviour, index: number) {
    if (opts.apiKey && req.headers['x-api-key'] !== opts.apiKey) {
      res.writeHead(401, { 'content-type': 'application/json', 'request-id': 'req_mock_auth' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
      return;
    }
    if (b.firstByteDelayMs) await sleep(b.firstByteDelayMs);
    if (res.destroyed) return;
    const common = {
      'request-id': `req_mock_${++counter}`,
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-organization-id': 'org-mock',
      ...b.extraHeaders,
    };
    if (b.status && b.status >= 400) {
      res.writeHead(b.status, { ...common, 'content-type': 'application/json', ...(b.status === 429 ? { 'retry-after': '7' } : {}) });
      res.end(
        JSON.stringify({
          type: 'error',
          error: { type: b.errorType ?? errorTypeFor(b.status), message: b.errorMessage ?? `mock error ${b.status}` },
        }),
      );
      return;
    }
    if ((req.url ?? '').includes('/count_tokens')) {
      const upcoming = cache ? 0 : promptUsage({ ...DEFAULT_REPLY, ...(state.queue[0] ?? state.defaults).reply });
      const count = Math.max(mockTokenCount(json ?? {}), upcoming);
      counted.set(promptKey(json ?? {}), count);
      res.writeHead(200, { ...common, 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: count }));
      return;
    }
    const reply: ScriptedReply = { ...DEFAULT_REPLY, model: typeof json?.model === 'string' ? json.model : DEFAULT_REPLY.model, ...b.reply };
    if (cache) {
      const u = cache.use(json ?? {});
      state.promptUsages[index] = u;
      Object.assign(reply, { inputTokens: u.input_tokens, cacheCreationInputTokens: u.cache_creation_input_tokens, cacheReadInputTokens: u.cache_read_input_tokens });
    }
    const count = counted.get(promptKey(json ?? {}));
    if (count !== undefined && promptUsage(reply) > count) state.overCount.push({ index, usage: promptUsage(reply), count });
    // As the real API: never more output than the max_tokens received, and then stop_reason max_tokens.
    const maxTokens = json?.max_tokens;
    if (b.honourMaxTokens && typeof maxTokens === 'number' && maxTokens > 0 && reply.outputTokens > maxTokens) Object.assign(reply, { outputTokens: Math.floor(maxTokens), stopReason: 'max_tokens' });
    if (json?.stream === true) {
      res.writeHead(200, { ...common, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const sent: Buffer[] = [];
      const events = scriptedEvents(reply);
      for (let i = 0; i < events.length; i++) {
        if (b.cutAfterEvents !== undefined && i >= b.cutAfterEvents) {
          state.sentBodies[index] = Buffer.concat(sent);
          // Let what was written reach the wire first; destroy() drops unflushed writes.
          await sleep(30);
          res.socket?.destroy();
          return;
        }
        if (b.hangAfterEvents !== undefined && i >= b.hangAfterEvents) {
          state.sentBodies[index] = Buffer.concat(sent);
          return; // never ends; the gateway must abort us when its client leaves
        }
        if (b.holdAfterEvents === i && b.release) {
          await b.release;
          if (res.destroyed) return;
        }
        const e = events[i]!;
        const bytes = Buffer.from(sseEvent(e.type, e.data));
        sent.push(bytes);
        res.write(bytes);
        if (b.eventDelayMs) await sleep(b.eventDelayMs);
        if (res.destroyed) return;
        if (i === 0 && b.pings) {
          for (let p = 0; p < b.pings.count && !res.destroyed; p++) {
            await sleep(b.pings.intervalMs);
            const ping = Buffer.from(sseEvent('ping', { type: 'ping' }));
            sent.push(ping);
            res.write(ping);
          }
        }
      }
      state.sentBodies[index] = Buffer.concat(sent);
      res.end();
      return;
    }
    let bytes = Buffer.from(JSON.stringify(scriptedMessage(reply)));
    if (b.jsonBytes && bytes.length < b.jsonBytes) {
      bytes = Buffer.from(JSON.stringify(scriptedMessage({ ...reply, text: reply.text + 'x'.repeat(b.jsonBytes - bytes.length) })));
    }
    state.sentBodies[index] = bytes;
    res.writeHead(200, { ...common, 'content-type': 'application/json' });
    if (b.jsonHangAfterBytes !== undefined) {
      res.write(bytes.subarray(0, b.jsonHangAfterBytes));
      return; // never ends; the gateway's idle timeout must give up on us
    }
    if (b.jsonCutAfterBytes !== undefined) {
      res.write(bytes.subarray(0, b.jsonCutAfterBytes));
      // Let what was written reach the wire first; destroy() drops unflushed writes.
      await sleep(30);
      res.socket?.destroy();
      return;
    }
    // In pieces, as a real upstream's socket delivers a large reply.
    for (let at = 0; at < bytes.length; at += 1 << 20) res.write(bytes.subarray(at, at + (1 << 20)));
    res.end();
  }

  server.keepAliveTimeout = 60_000;
  const loop = await listenLoopback(server);
  // The returned object is the live state: tests assign `queue`/`defaults` and read `requests`.
  const clearPromptCache = () => {
    if (cache) cache = new MockPromptCache();
  };
  return Object.assign(state, { url: loop.url, port: loop.port, close: loop.close, clearPromptCache }) as MockAnthropic;
}

/** The prompt count_tokens counts, as one key (cache_control markers aside, as they are not tokens). */
function promptKey(json: Record<string, unknown>): string {
  return JSON.stringify([json.model, promptUnits(json).map((u) => u.json)]);
}

function promptUsage(r: Pick<ScriptedReply, 'inputTokens' | 'cacheReadInputTokens' | 'cacheCreationInputTokens'>): number {
  return r.inputTokens + (r.cacheReadInputTokens ?? 0) + (r.cacheCreationInputTokens ?? 0);
}

function errorTypeFor(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * provider: simulated. An in-process stand-in model so the whole path (sign-in, policy, caps,
 * audit) can be tried offline by `npm start` with no API key. Every reply says it is
 * simulated, in the text and in the `x-tollgate-simulated` header. Never for production.
 */
import { randomBytes } from 'node:crypto';
import type { ResolvedUpstream } from '../config/load';
import { scriptedEvents, scriptedMessage, sseEvent } from './sse';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream';

type SimulatedConfig = Extract<ResolvedUpstream, { provider: 'simulated' }>;

function approxTokens(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4));
}

export class SimulatedUpstream implements Upstream {
  readonly provider = 'simulated';
  readonly name: string;
  constructor(private readonly cfg: SimulatedConfig) {
    this.name = cfg.name;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const headers = { 'x-tollgate-simulated': 'true' };
    const inputTokens = approxTokens(req.rawBody.length);
    if (req.operation === 'count_tokens') {
      return once(200, { ...headers, 'content-type': 'application/json' }, JSON.stringify({ input_tokens: inputTokens }));
    }
    const text =
      this.cfg.reply ??
      `[simulated model] This reply comes from Tollgate's built-in simulated model, not a real model. ` +
        `Set ANTHROPIC_API_KEY (or configure an upstream in gateway.yaml) to reach Claude.`;
    const maxTokens = typeof req.body.max_tokens === 'number' ? req.body.max_tokens : 1024;
    const reply = {
      id: `msg_sim_${randomBytes(12).toString('hex')}`,
      model: req.model,
      text,
      inputTokens,
      outputTokens: Math.min(maxTokens, approxTokens(text.length)),
    };
    if (!req.stream) {
      return once(200, { ...headers, 'content-type': 'application/json' }, JSON.stringify(scriptedMessage(reply)));
    }
    const events = scriptedEvents(reply);
    async function* gen() {
      for (const e of events) yield Buffer.from(sseEvent(e.type, e.data));
    }
    return { status: 200, headers: { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }, body: gen(), discard: () => {} };
  }

  async close(): Promise<void> {}
}

function once(status: number, headers: Record<string, string>, text: string): UpstreamResponse {
  async function* gen() {
    yield Buffer.from(text);
  }
  return { status, headers, body: gen(), discard: () => {} };
}

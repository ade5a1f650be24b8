/**
 * Near a hard cap, the prompt's worst case is bounded by the upstream's own token count
 * (`POST /v1/messages/count_tokens`, Bedrock's CountTokens, Vertex's count-tokens:rawPredict;
 * each adapter already speaks its provider's form) instead of one token per body byte. Asked only
 * when the byte bound no longer fits (spend/gate.ts), so the normal path pays nothing. Any failure
 * (no counting on that upstream, an error, a slow answer) yields undefined and the gate keeps the
 * byte bound, which needs no one's word.
 */
import { z } from 'zod';
import type { Principal } from '../auth/session-token';
import { routeWithFailover, type RouteCandidate } from '../routing/failover';

/** How long a count may take before the gate goes on with the byte bound. */
export const COUNT_TIMEOUT_MS = 5_000;
/** A count_tokens answer is a few dozen bytes; anything larger is not one. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Top-level fields count_tokens takes (it refuses others such as max_tokens, stream, metadata). */
const COUNTED_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers', 'context_management'] as const;

const countAnswer = z.object({ input_tokens: z.number().int().nonnegative() });

/** The count_tokens body for a Messages request: its prompt-bearing fields only. */
export function countBody(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of COUNTED_FIELDS) if (body[k] !== undefined) out[k] = body[k];
  return out;
}

/**
 * A function the spend gate may call to learn the prompt's token count from the upstreams that
 * would serve the request (in failover order). Resolves to undefined rather than throwing.
 */
export function promptCounter(
  candidates: RouteCandidate[],
  req: { url: string; headers: Record<string, string>; body: Record<string, unknown>; model: string; principal: Principal; requestId: string },
): () => Promise<number | undefined> {
  return async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), COUNT_TIMEOUT_MS);
    try {
      const body = countBody(req.body);
      const rawBody = Buffer.from(JSON.stringify(body));
      const { response } = await routeWithFailover(candidates, {
        operation: 'count_tokens',
        search: req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '',
        headers: req.headers,
        rawBody,
        body,
        model: req.model,
        stream: false,
        signal: controller.signal,
        principal: req.principal,
        requestId: req.requestId,
      });
      const text = await readCapped(response.body);
      if (response.status !== 200 || text === undefined) return undefined;
      const parsed = countAnswer.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data.input_tokens : undefined;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
}

async function readCapped(body: AsyncIterable<Uint8Array>): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > MAX_ANSWER_BYTES) return undefined;
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks).toString('utf8');
}

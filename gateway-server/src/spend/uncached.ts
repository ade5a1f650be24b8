/**
 * Near a hard cap, the last request or two of a period may go out without prompt caching. With any
 * `cache_control` in the body, a cache miss cannot be ruled out, so every prompt token is bounded at
 * the cache-write rate (1.25× or 2× input). A request that does not fit at that rate but does at the
 * plain input rate is forwarded with every `cache_control` removed: with no marker the upstream
 * writes no cache, so its prompt is charged at most the input rate (a cache read is cheaper still),
 * and that is what it reserves. Used only when keeping the markers cannot be admitted (caching is
 * cheaper for the developer whenever it fits).
 *
 * The proof does not rest on finding every marker: the stripped body's worst case is recomputed
 * from its own bytes by PriceBook.worstCase, which prices at the cache-write rate whenever the
 * string `"cache_control"` is anywhere in them (re-serialised, so no escape can hide a key).
 */
import type { AdmitContext } from '../inference/hooks';
import type { PriceBook, WorstCase } from './pricing';

type Block = Record<string, unknown>;

const isObject = (v: unknown): v is Block => !!v && typeof v === 'object' && !Array.isArray(v);

/** A content block without its cache_control; a tool_result's nested blocks likewise. */
function stripBlock(block: unknown, removed: { n: number }): unknown {
  if (!isObject(block)) return block;
  let out = block;
  if ('cache_control' in out) {
    const { cache_control: _c, ...rest } = out;
    out = rest;
    removed.n++;
  }
  if (Array.isArray(out.content)) out = { ...out, content: stripBlocks(out.content, removed) };
  return out;
}

const stripBlocks = (blocks: unknown[], removed: { n: number }) => blocks.map((b) => stripBlock(b, removed));

/**
 * The Messages body without prompt-caching markers: a top-level `cache_control`, and the key on
 * system blocks, tools, and message content blocks (with a tool_result's own blocks). A tool's
 * `input_schema` is left alone (a property may be named cache_control). Undefined when the body
 * has no marker in those places.
 */
export function withoutCacheControl(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const removed = { n: 0 };
  const { cache_control: top, ...out } = body;
  if (top !== undefined) removed.n++;
  if (Array.isArray(out.system)) out.system = stripBlocks(out.system, removed);
  if (Array.isArray(out.tools)) {
    out.tools = out.tools.map((t) => {
      if (!isObject(t) || !('cache_control' in t)) return t;
      removed.n++;
      const { cache_control: _c, ...rest } = t;
      return rest;
    });
  }
  if (Array.isArray(out.messages)) {
    out.messages = out.messages.map((m) => (isObject(m) && Array.isArray(m.content) ? { ...m, content: stripBlocks(m.content, removed) } : m));
  }
  return removed.n > 0 ? out : undefined;
}

/** The same request without its caching markers: what it would send and its worst case. */
export interface Uncached {
  ctx: AdmitContext;
  wc: WorstCase;
}

/**
 * The request stripped of its caching markers, re-serialised, with its worst case from those
 * bytes; undefined when that would not lower the input rate (no markers, an OpenAI body, or a
 * marker the stripping does not reach).
 */
export function uncachedVariant(prices: PriceBook, ctx: AdmitContext, wc: WorstCase): Uncached | undefined {
  if (ctx.family === 'openai') return undefined;
  const body = withoutCacheControl(ctx.body);
  if (!body) return undefined;
  const rawBody = Buffer.from(JSON.stringify(body), 'utf8');
  const plain = prices.worstCase(ctx.model, body, rawBody.length, rawBody, ctx.family);
  if (plain.inputRate >= wc.inputRate) return undefined;
  return { ctx: { ...ctx, body, rawBody, rawBodyBytes: rawBody.length }, wc: plain };
}

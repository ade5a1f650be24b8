/**
 * The mock upstream's tokenizer and a deterministic prompt cache, shaped like Anthropic's:
 * - the prompt is a sequence of units in cache-prefix order (each tool, each system block, each
 *   message content block, then tool_choice), each `ceil(bytes of its JSON / 4)` tokens, with its
 *   `cache_control` left out: a marker is not a token, so a body counts the same with or without;
 * - a unit carrying `cache_control` (a tool_result whose own blocks carry one counts as carrying
 *   it) is a breakpoint; a top-level `cache_control` makes the last message unit one;
 * - a request reads the longest prefix, ending at a unit boundary, that an earlier request of the
 *   same model wrote; writes the rest up to its last breakpoint; pays the input rate for what
 *   follows; then every breakpoint's prefix is in the cache. No breakpoint: all input, no write.
 * Unlike the real cache there is no TTL and no minimum cacheable length, so the figures are exact.
 */
import { createHash } from 'node:crypto';

export interface PromptUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

interface Unit {
  tokens: number;
  json: string;
  breakpoint: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The value without any cache_control key, at any depth (the tokenizer's view; tests' oracle of an uncached body). */
export function unmarked(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unmarked);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'cache_control').map(([k, x]) => [k, unmarked(x)]));
}

function hasMarker(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasMarker);
  return isObject(v) && ('cache_control' in v || (Array.isArray(v.content) && hasMarker(v.content)));
}

function unit(v: unknown, breakpoint: boolean): Unit {
  const json = JSON.stringify(unmarked(v)) ?? 'null';
  return { tokens: Math.ceil(Buffer.byteLength(json) / 4), json, breakpoint };
}

/** The prompt's units in cache-prefix order: tools, system, messages, tool_choice. */
export function promptUnits(json: Record<string, unknown>): Unit[] {
  const units: Unit[] = [];
  if (Array.isArray(json.tools)) for (const t of json.tools) units.push(unit(t, isObject(t) && 'cache_control' in t));
  if (Array.isArray(json.system)) for (const b of json.system) units.push(unit(b, hasMarker(b)));
  else if (json.system !== undefined) units.push(unit(json.system, false));
  if (Array.isArray(json.messages)) {
    for (const m of json.messages as unknown[]) {
      const role = isObject(m) ? m.role : undefined;
      const content = isObject(m) ? m.content : undefined;
      if (Array.isArray(content)) for (const b of content) units.push(unit([role, b], hasMarker(b)));
      else units.push(unit([role, content], false));
    }
    const lastMessage = units.length - 1;
    if (json.cache_control !== undefined && lastMessage >= 0) units[lastMessage]!.breakpoint = true;
  }
  if (json.tool_choice !== undefined) units.push(unit(json.tool_choice, false));
  return units;
}

/** The mock's tokenizer: the sum of the prompt's units (cache_control markers are not tokens). */
export function mockTokenCount(json: Record<string, unknown>): number {
  return promptUnits(json).reduce((n, u) => n + u.tokens, 0);
}

export class MockPromptCache {
  /** Prefix hashes written (per model), with their token counts. */
  private readonly written = new Map<string, number>();

  /** The prompt usage of `json` as a cached upstream would report it; records its breakpoints' prefixes. */
  use(json: Record<string, unknown>): PromptUsage {
    const units = promptUnits(json);
    const hashes: string[] = [];
    const upTo: number[] = [];
    let h = createHash('sha256').update(String(json.model)).digest('hex');
    let n = 0;
    for (const u of units) {
      h = createHash('sha256').update(h).update(u.json).digest('hex');
      n += u.tokens;
      hashes.push(h);
      upTo.push(n);
    }
    const last = units.map((u) => u.breakpoint).lastIndexOf(true);
    if (last < 0) return { input_tokens: n, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    let read = 0;
    for (let i = last; i >= 0; i--) {
      const hit = this.written.get(hashes[i]!);
      if (hit !== undefined) {
        read = hit;
        break;
      }
    }
    units.forEach((u, i) => {
      if (u.breakpoint && i <= last) this.written.set(hashes[i]!, upTo[i]!);
    });
    return { input_tokens: n - upTo[last]!, cache_creation_input_tokens: upTo[last]! - read, cache_read_input_tokens: read };
  }
}

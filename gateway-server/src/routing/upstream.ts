/**
 * The small interface every upstream kind implements (anthropic, bedrock, vertex, simulated,
 * openai, azure_openai). Adapters translate one request and never retry: failover (failover.ts)
 * owns retries. A response is returned as soon as its status and headers are known; the body is
 * always the wire format of the upstream's API family (Anthropic Messages for the Claude family,
 * whatever the provider speaks; OpenAI Responses, passed through, for the OpenAI family).
 */
import type { Principal } from '../auth/session-token';

export type UpstreamOperation = 'messages' | 'count_tokens' | 'responses';

/** The client API an upstream speaks: failover only ever moves between upstreams of one family. */
export type ApiFamilyName = 'anthropic' | 'openai';

export interface UpstreamRequest {
  operation: UpstreamOperation;
  /** Query string as the client sent it, including the leading `?`, or ''. */
  search: string;
  /** Client headers already filtered to the forwardable set (lower-case names). */
  headers: Record<string, string>;
  /** The body bytes exactly as the client sent them. */
  rawBody: Buffer;
  /** The parsed body (adapters that rewrite the body start from this; never mutate it). */
  body: Record<string, unknown>;
  /** The model ID the client asked for. */
  model: string;
  /** The ID this upstream knows the model by (from the model catalogue). */
  upstreamModel: string;
  stream: boolean;
  signal: AbortSignal;
  principal: Principal;
  requestId: string;
}

export interface UpstreamResponse {
  status: number;
  /** Response headers to relay (lower-case), already free of hop-by-hop and rate-limit headers. */
  headers: Record<string, string | string[]>;
  body: AsyncIterable<Uint8Array>;
  /** Discard the body without reading it (failover moved on). */
  discard(): void;
}

export interface Upstream {
  readonly name: string;
  readonly provider: string;
  /** Absent = 'anthropic' (every Claude provider). */
  readonly family?: ApiFamilyName;
  /**
   * OpenAI family: the ID this upstream serves `model` under (an Azure deployment), or undefined
   * when it does not serve it. Absent = the client's ID, unchanged.
   */
  modelId?(model: string): string | undefined;
  /** Resolves at response start. Rejects with UpstreamConnectError / UpstreamTimeoutError on transport failure. */
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export class UpstreamConnectError extends Error {
  constructor(readonly upstream: string, cause: unknown) {
    super(`upstream ${upstream} unreachable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'UpstreamConnectError';
  }
}

/** The gateway could not obtain its own credential for the upstream (an Entra ID token): nothing was sent. */
export class UpstreamCredentialError extends UpstreamConnectError {
  constructor(upstream: string, what: string) {
    super(upstream, new Error(what));
    this.name = 'UpstreamCredentialError';
    this.message = `upstream ${upstream}: ${what}`;
  }
}

export class UpstreamTimeoutError extends Error {
  constructor(readonly upstream: string, readonly ms: number) {
    super(`upstream ${upstream} sent no response within ${ms} ms`);
    this.name = 'UpstreamTimeoutError';
  }
}

export function familyOf(u: Upstream): ApiFamilyName {
  return u.family ?? 'anthropic';
}

/**
 * The upstream's body went quiet for longer than `timeouts.upstream_idle_ms`: undici's body
 * timeout, recognised by its code (and class name) as the adapters rethrow it unchanged.
 */
export function isUpstreamIdleTimeout(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  return !!e && (e.code === 'UND_ERR_BODY_TIMEOUT' || e.name === 'BodyTimeoutError');
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-encoding',
  'date',
  'server',
]);

/** Drop hop-by-hop headers and the upstream's rate-limit headers (replaced by ours). */
export function cleanResponseHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const k = name.toLowerCase();
    // Rate-limit and organisation headers describe the gateway's upstream account, not the caller's.
    if (HOP_BY_HOP.has(k) || k.startsWith('anthropic-ratelimit-') || k.startsWith('x-ratelimit-') || k === 'openai-organization' || k === 'openai-project' || k === 'request-id' || k === 'x-request-id') continue;
    out[k] = value;
  }
  return out;
}

/** Client request headers forwarded upstream (the official gateway's set). */
export function forwardableHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const k = name.toLowerCase();
    if (
      k === 'anthropic-version' ||
      k === 'anthropic-beta' ||
      k === 'content-type' ||
      k === 'accept' ||
      k === 'user-agent' ||
      k === 'anthropic-workspace-id' ||
      k.startsWith('x-stainless-')
    ) {
      out[k] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return out;
}

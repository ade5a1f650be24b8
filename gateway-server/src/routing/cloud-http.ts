/**
 * The transport shared by the cloud adapters: one undici pool per upstream origin, transport
 * failures mapped to UpstreamConnectError / UpstreamTimeoutError, and Anthropic-envelope
 * responses for errors the adapter answers itself (sanitised provider errors, not_supported).
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { anthropicErrorBody } from '../errors';
import { UpstreamConnectError, UpstreamTimeoutError, type UpstreamResponse } from './upstream';

/** Where cloud adapters write provider error text (the operator log; never the client). */
export type OperatorLog = (detail: Record<string, unknown>, message: string) => void;

export const noLog: OperatorLog = () => {};

export class CloudHttp {
  private readonly pool: Pool;
  constructor(
    readonly origin: string,
    private readonly upstream: string,
    private readonly ttfbMs: number,
    /** Longest silence inside a reply body (0 = none): timeouts.upstream_idle_ms. */
    private readonly idleMs = 0,
  ) {
    this.pool = new Pool(origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: ttfbMs, bodyTimeout: idleMs });
  }

  async post(path: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    try {
      return await this.pool.request({ method: 'POST', path, headers, body, signal, headersTimeout: this.ttfbMs, bodyTimeout: this.idleMs });
    } catch (err) {
      if (err instanceof undiciErrors.HeadersTimeoutError) throw new UpstreamTimeoutError(this.upstream, this.ttfbMs);
      if (signal.aborted) throw err;
      throw new UpstreamConnectError(this.upstream, err);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** Read a (small, error) body whole; a transport failure while reading is a connect error. */
export async function readText(res: Dispatcher.ResponseData, upstream: string): Promise<string> {
  try {
    return await res.body.text();
  } catch (err) {
    throw new UpstreamConnectError(upstream, err);
  }
}

/**
 * Headers kept on a sanitised cloud error: `retry-after`; and `x-should-retry: false` on 401/403,
 * which mean the gateway's own cloud credential is wrong, something a client retry cannot fix.
 */
export function relayedErrorHeaders(status: number, upstream: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const retryAfter = headerValue(upstream['retry-after']);
  if (retryAfter) out['retry-after'] = retryAfter;
  if (status === 401 || status === 403) out['x-should-retry'] = 'false';
  return out;
}

export function jsonResponse(status: number, value: unknown, extra: Record<string, string> = {}): UpstreamResponse {
  const bytes = Buffer.from(JSON.stringify(value));
  async function* gen() {
    yield bytes;
  }
  return { status, headers: { 'content-type': 'application/json', ...extra }, body: gen(), discard: () => {} };
}

export function errorResponse(
  status: number,
  type: string,
  message: string,
  requestId: string,
  extra: Record<string, string> = {},
): UpstreamResponse {
  return jsonResponse(status, anthropicErrorBody(type, message, requestId), extra);
}

export function bodyResponse(status: number, headers: Record<string, string>, res: Dispatcher.ResponseData, body?: AsyncIterable<Uint8Array>): UpstreamResponse {
  return {
    status,
    headers,
    body: body ?? res.body,
    discard: () => {
      res.body.resume();
      res.body.on('error', () => {});
    },
  };
}

/**
 * provider: anthropic. Pass-through: the client's body bytes go upstream unchanged (so unknown
 * fields, betas and the attribution block survive) and the reply comes back byte for byte.
 */
import { Pool, errors as undiciErrors } from 'undici';
import type { ResolvedUpstream } from '../config/load';
import {
  cleanResponseHeaders,
  UpstreamConnectError,
  UpstreamTimeoutError,
  type Upstream,
  type UpstreamRequest,
  type UpstreamResponse,
} from './upstream';

type AnthropicConfig = Extract<ResolvedUpstream, { provider: 'anthropic' }>;

export const GATEWAY_UA_SUFFIX = ' tollgate/0.1.0';

export class AnthropicUpstream implements Upstream {
  readonly provider = 'anthropic';
  readonly name: string;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly credentialHeaders: Record<string, string>;
  private readonly staticHeaders: Record<string, string>;

  constructor(
    private readonly cfg: AnthropicConfig,
    private readonly ttfbMs: number,
    /** Longest silence inside a reply body (0 = none): timeouts.upstream_idle_ms. */
    private readonly idleMs = 0,
  ) {
    this.name = cfg.name;
    const base = new URL(cfg.base_url ?? 'https://api.anthropic.com');
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.pool = new Pool(base.origin, {
      connections: 256,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: ttfbMs,
      bodyTimeout: idleMs,
    });
    this.credentialHeaders = {};
    if (cfg.auth.api_key) this.credentialHeaders['x-api-key'] = cfg.auth.api_key;
    else if (cfg.auth.oauth_token) this.credentialHeaders.authorization = `Bearer ${cfg.auth.oauth_token}`;
    this.staticHeaders = { ...(cfg.headers ?? {}) };
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const path = `${this.basePath}/v1/messages${req.operation === 'count_tokens' ? '/count_tokens' : ''}${req.search}`;
    const headers: Record<string, string> = {
      ...req.headers,
      ...this.staticHeaders,
      ...this.credentialHeaders,
      'content-length': String(req.rawBody.length),
      'user-agent': (req.headers['user-agent'] ?? 'tollgate') + GATEWAY_UA_SUFFIX,
    };
    if (!headers['content-type']) headers['content-type'] = 'application/json';
    if (this.cfg.forward_user_identity) {
      headers['x-claude-gateway-user-id'] = req.principal.sub;
      if (req.principal.email) {
        headers['x-claude-gateway-user-email'] = req.principal.email;
        headers['x-litellm-end-user-id'] = req.principal.email;
      }
    }
    let res;
    try {
      res = await this.pool.request({
        method: 'POST',
        path,
        headers,
        body: req.rawBody,
        signal: req.signal,
        headersTimeout: this.ttfbMs,
        bodyTimeout: this.idleMs,
      });
    } catch (err) {
      if (err instanceof undiciErrors.HeadersTimeoutError) throw new UpstreamTimeoutError(this.name, this.ttfbMs);
      if (req.signal.aborted) throw err;
      throw new UpstreamConnectError(this.name, err);
    }
    const body = res.body;
    return {
      status: res.statusCode,
      headers: cleanResponseHeaders(res.headers),
      body,
      discard: () => {
        body.resume();
        body.on('error', () => {});
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * provider: vertex. The Anthropic request as Vertex AI's rawPredict / streamRawPredict (model in
 * the URL, Vertex's anthropic_version in the body, betas stay a header), with a Google OAuth
 * access token from google-auth-library (ADC or a service-account file) or a static token.
 * Vertex answers standard Anthropic SSE / JSON, relayed as is; errors are sanitised.
 */
import { GoogleAuth } from 'google-auth-library';
import type { ResolvedUpstream } from '../config/load';
import { bodyResponse, CloudHttp, errorResponse, headerValue, relayedErrorHeaders, noLog, readText, type OperatorLog } from './cloud-http';
import { betaList, cloudModelId } from './model-ids';
import { sanitizeCloudError } from './sanitize';
import { UpstreamConnectError, type Upstream, type UpstreamRequest, type UpstreamResponse } from './upstream';

type VertexConfig = Extract<ResolvedUpstream, { provider: 'vertex' }>;

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** Returns a current OAuth access token (cached and refreshed by the source). */
export type AccessTokenSource = () => Promise<string>;

export interface VertexOptions {
  ttfbMs: number;
  /** Longest silence inside a reply body, timeouts.upstream_idle_ms (absent = none). */
  idleMs?: number;
  /** Replaces the configured auth (tests; embedders with their own token broker). */
  tokenSource?: AccessTokenSource;
  log?: OperatorLog;
}

/** google-auth-library: a service-account file when configured, else Application Default Credentials. */
export function googleTokenSource(serviceAccountJson?: string): AccessTokenSource {
  const auth = new GoogleAuth({ scopes: [SCOPE], ...(serviceAccountJson ? { keyFilename: serviceAccountJson } : {}) });
  return async () => {
    const client = await auth.getClient();
    const { token } = await client.getAccessToken();
    if (!token) throw new Error('google-auth-library returned no access token');
    return token;
  };
}

export function vertexBaseUrl(cfg: Pick<VertexConfig, 'region' | 'base_url'>): string {
  if (cfg.base_url) return cfg.base_url.replace(/\/+$/, '');
  return cfg.region === 'global' ? 'https://aiplatform.googleapis.com/v1' : `https://${cfg.region}-aiplatform.googleapis.com/v1`;
}

/** The rawPredict body: Vertex's anthropic_version, no model (it is in the URL), no tags. */
export function vertexBody(body: Record<string, unknown>, operation: UpstreamRequest['operation'], modelId: string): Record<string, unknown> {
  const { model: _model, tags: _tags, ...rest } = body;
  if (operation === 'count_tokens') {
    const { stream: _stream, ...counted } = rest;
    return { anthropic_version: VERTEX_ANTHROPIC_VERSION, ...counted, model: modelId };
  }
  return { anthropic_version: VERTEX_ANTHROPIC_VERSION, ...rest };
}

export class VertexUpstream implements Upstream {
  readonly provider = 'vertex';
  readonly name: string;
  private readonly http: CloudHttp;
  private readonly basePath: string;
  private readonly token: AccessTokenSource;
  private log: OperatorLog;

  constructor(
    private readonly cfg: VertexConfig,
    opts: VertexOptions,
  ) {
    this.name = cfg.name;
    const base = new URL(vertexBaseUrl(cfg));
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.http = new CloudHttp(base.origin, cfg.name, opts.ttfbMs, opts.idleMs);
    this.log = opts.log ?? noLog;
    const staticToken = cfg.auth.access_token;
    this.token = opts.tokenSource ?? (staticToken ? async () => staticToken : googleTokenSource(cfg.auth.service_account_json));
  }

  setLog(log: OperatorLog): void {
    this.log = log;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const modelId = cloudModelId('vertex', req.upstreamModel);
    const models = `${this.basePath}/projects/${encodeURIComponent(this.cfg.project_id)}/locations/${encodeURIComponent(this.cfg.region)}/publishers/anthropic/models`;
    const path =
      req.operation === 'count_tokens'
        ? `${models}/count-tokens:rawPredict`
        : `${models}/${encodeURIComponent(modelId).replace(/%40/g, '@')}:${req.stream ? 'streamRawPredict' : 'rawPredict'}`;
    let token: string;
    try {
      token = await this.token();
    } catch (err) {
      this.log({ upstream: this.name, requestId: req.requestId, err: (err as Error).message }, 'vertex access token unavailable');
      throw new UpstreamConnectError(this.name, new Error('could not obtain a Google access token'));
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: req.stream ? 'text/event-stream' : 'application/json',
      ...(this.cfg.headers ?? {}),
      authorization: `Bearer ${token}`,
    };
    const betas = betaList(req.headers['anthropic-beta']);
    if (betas.length) headers['anthropic-beta'] = betas.join(',');
    const body = Buffer.from(JSON.stringify(vertexBody(req.body, req.operation, modelId)));
    const res = await this.http.post(path, headers, body, req.signal);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      const type = headerValue(res.headers['content-type']) ?? (req.stream ? 'text/event-stream; charset=utf-8' : 'application/json');
      return bodyResponse(res.statusCode, { 'content-type': type, ...(req.stream ? { 'cache-control': 'no-cache' } : {}) }, res);
    }
    const text = await readText(res, this.name);
    this.log(
      { upstream: this.name, requestId: req.requestId, status: res.statusCode, model: modelId, providerBody: text.slice(0, 2000) },
      'vertex answered with an error',
    );
    const s = sanitizeCloudError('vertex', res.statusCode, text);
    return errorResponse(s.status, s.type, s.message, req.requestId, relayedErrorHeaders(s.status, res.headers));
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/**
 * provider: openai and provider: azure_openai. Pass-through for the OpenAI Responses API: the
 * client's body bytes go upstream unchanged (so `store`, `include` and encrypted reasoning items
 * survive) and the reply comes back byte for byte. The client's bearer (a gateway session) never
 * leaves: only the headers below are forwarded and the upstream credential replaces it.
 * Azure: `{endpoint}/openai/responses?api-version=…` with an `api-key` header, or with
 * `authorization: Bearer <Entra ID token>` when auth.entra_id is set (entra-token.ts); the body's
 * top-level `model` value alone is rewritten to the deployment name when it differs.
 */
import { Pool, errors as undiciErrors } from 'undici';
import type { ResolvedUpstream } from '../config/load';
import { topLevelValueSpan } from '../edge/json-scan';
import { cleanResponseHeaders, UpstreamConnectError, UpstreamCredentialError, UpstreamTimeoutError, type Upstream, type UpstreamRequest, type UpstreamResponse } from './upstream';
import { GATEWAY_UA_SUFFIX } from './anthropic';
import { noLog, type OperatorLog } from './cloud-http';
import type { BearerTokenSource } from './entra-token';

type OpenAIConfig = Extract<ResolvedUpstream, { provider: 'openai' | 'azure_openai' }>;

/** Client request headers an OpenAI upstream receives (Codex's session and turn headers help its prompt cache). */
export function openaiForwardableHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const k = name.toLowerCase();
    if (
      k === 'content-type' ||
      k === 'accept' ||
      k === 'user-agent' ||
      k === 'originator' ||
      k === 'session-id' ||
      k === 'thread-id' ||
      k === 'openai-beta' ||
      k === 'x-client-request-id' ||
      k.startsWith('x-codex-') ||
      k.startsWith('x-stainless-')
    ) {
      out[k] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return out;
}

/** The body with its top-level `model` value replaced (every other byte unchanged). */
function withModel(raw: Buffer, model: string): Buffer {
  const span = topLevelValueSpan(raw, 'model');
  if (!span) return raw;
  return Buffer.concat([raw.subarray(0, span.start), Buffer.from(JSON.stringify(model), 'utf8'), raw.subarray(span.end)]);
}

export class OpenAIUpstream implements Upstream {
  readonly family = 'openai' as const;
  readonly provider: string;
  readonly name: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly query: string;
  private readonly fixedHeaders: Record<string, string>;
  private readonly deployments: Readonly<Record<string, string>> | undefined;
  private log: OperatorLog = noLog;

  constructor(
    cfg: OpenAIConfig,
    private readonly ttfbMs: number,
    /** Longest silence inside a reply body (0 = none): timeouts.upstream_idle_ms. */
    private readonly idleMs = 0,
    /** Azure with auth.entra_id: the bearer replaces the `api-key` header. */
    private readonly bearer?: BearerTokenSource,
  ) {
    this.name = cfg.name;
    this.provider = cfg.provider;
    // Codex offers zstd, which Node cannot decode; the usage tap must read the reply.
    const common = { ...(cfg.headers ?? {}), 'accept-encoding': 'identity' };
    let base: URL;
    if (cfg.provider === 'azure_openai') {
      base = new URL(cfg.endpoint);
      this.path = `${base.pathname.replace(/\/+$/, '')}/openai/responses`;
      this.query = `api-version=${encodeURIComponent(cfg.api_version)}`;
      this.deployments = cfg.deployments;
      this.fixedHeaders = bearer ? common : { ...common, 'api-key': cfg.auth.api_key ?? '' };
    } else {
      base = new URL(cfg.base_url);
      this.path = `${base.pathname.replace(/\/+$/, '')}/responses`;
      this.query = '';
      this.fixedHeaders = { ...common, authorization: `Bearer ${cfg.auth.api_key}` };
    }
    this.pool = new Pool(base.origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: ttfbMs, bodyTimeout: idleMs });
  }

  setLog(log: OperatorLog): void {
    this.log = log;
  }

  /** Azure serves only the models it has a deployment for, under the deployment's name. */
  modelId(model: string): string | undefined {
    if (!this.deployments) return model;
    return Object.prototype.hasOwnProperty.call(this.deployments, model) ? this.deployments[model] : undefined;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const body = req.upstreamModel !== req.model ? withModel(req.rawBody, req.upstreamModel) : req.rawBody;
    const headers: Record<string, string> = {
      ...req.headers,
      ...this.fixedHeaders,
      'content-length': String(body.length),
      'user-agent': (req.headers['user-agent'] ?? 'tollgate') + GATEWAY_UA_SUFFIX,
    };
    if (this.bearer) headers.authorization = `Bearer ${await this.entraToken(req)}`;
    if (!headers['content-type']) headers['content-type'] = 'application/json';
    const search = this.query ? (req.search ? `${req.search}&${this.query}` : `?${this.query}`) : req.search;
    let res;
    try {
      res = await this.pool.request({ method: 'POST', path: `${this.path}${search}`, headers, body, signal: req.signal, headersTimeout: this.ttfbMs, bodyTimeout: this.idleMs });
    } catch (err) {
      if (err instanceof undiciErrors.HeadersTimeoutError) throw new UpstreamTimeoutError(this.name, this.ttfbMs);
      if (req.signal.aborted) throw err;
      throw new UpstreamConnectError(this.name, err);
    }
    const resBody = res.body;
    return {
      status: res.statusCode,
      headers: cleanResponseHeaders(res.headers),
      body: resBody,
      discard: () => {
        resBody.resume();
        resBody.on('error', () => {});
      },
    };
  }

  /** A token failure is this upstream's fault: a transport error, so the breaker and failover see it. */
  private async entraToken(req: UpstreamRequest): Promise<string> {
    try {
      return await this.bearer!(req.signal);
    } catch (err) {
      if (req.signal.aborted) throw err;
      this.log({ upstream: this.name, requestId: req.requestId, err: (err as Error).message }, 'azure_openai Entra ID token unavailable');
      throw new UpstreamCredentialError(this.name, 'could not obtain an Entra ID token');
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * provider: bedrock. Translates the Anthropic request into InvokeModel /
 * InvokeModelWithResponseStream (body changes as the official gateway makes them, see
 * docs/routing.md), signs it with SigV4 (or a Bedrock API key as a bearer), and answers in
 * Anthropic wire format: the event stream re-emitted as SSE, errors sanitised.
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { ResolvedUpstream } from '../config/load';
import { GatewayError, renderAnthropicError } from '../errors';
import { BedrockCredentials } from './bedrock-credentials';
import { bedrockToSse } from './bedrock-stream';
import { bodyResponse, CloudHttp, errorResponse, headerValue, relayedErrorHeaders, jsonResponse, noLog, readText, type OperatorLog } from './cloud-http';
import { bedrockFoundationId, bedrockPathSegment, betaList, cloudModelId } from './model-ids';
import { bedrockExceptionStatus, sanitizeCloudError } from './sanitize';
import { UpstreamConnectError, type Upstream, type UpstreamRequest, type UpstreamResponse } from './upstream';

type BedrockConfig = Extract<ResolvedUpstream, { provider: 'bedrock' }>;

/** SHA-256 as the SigV4 signer wants it: a constructor taking an optional HMAC secret. */
export const Sha256 = Hash.bind(null, 'sha256');

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';
/** The official gateway skips counting for a model whose CountTokens failed, for this long. */
const COUNT_SKIP_MS = 10 * 60_000;

export interface BedrockOptions {
  ttfbMs: number;
  /** Longest silence inside a reply body, timeouts.upstream_idle_ms (absent = none). */
  idleMs?: number;
  /** Silence after which a `ping` is synthesised (default 15 s). */
  pingIntervalMs?: number;
  /** Overrides the credentials from config / the default chain (tests). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  log?: OperatorLog;
  now?: () => number;
  /** STS endpoint for assume_role (tests). */
  stsEndpoint?: string;
}

/** The InvokeModel body: Bedrock's anthropic_version, betas in the body, no model/stream/tags. */
export function bedrockBody(body: Record<string, unknown>, headers: Record<string, string>): Record<string, unknown> {
  const { model: _model, stream: _stream, tags: _tags, anthropic_beta: bodyBetas, ...rest } = body;
  const betas = [...(Array.isArray(bodyBetas) ? (bodyBetas as string[]) : []), ...betaList(headers['anthropic-beta'])];
  const out: Record<string, unknown> = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest };
  const unique = [...new Set(betas)].filter((b) => !/^request-tags-/.test(b));
  if (unique.length) out.anthropic_beta = unique;
  return out;
}

export class BedrockUpstream implements Upstream {
  readonly provider = 'bedrock';
  readonly name: string;
  private readonly http: CloudHttp;
  private readonly base: URL;
  private readonly basePath: string;
  private readonly credentials?: BedrockCredentials;
  private readonly signers = new WeakMap<object, SignatureV4>();
  private readonly bearer?: string;
  private log: OperatorLog;
  private readonly countSkip = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly cfg: BedrockConfig,
    private readonly opts: BedrockOptions,
  ) {
    this.name = cfg.name;
    this.base = new URL(cfg.base_url ?? `https://bedrock-runtime.${cfg.region}.amazonaws.com`);
    this.basePath = this.base.pathname.replace(/\/+$/, '');
    this.http = new CloudHttp(this.base.origin, cfg.name, opts.ttfbMs, opts.idleMs);
    this.log = opts.log ?? noLog;
    this.now = opts.now ?? Date.now;
    if (cfg.auth.aws_bearer_token && !opts.credentials) this.bearer = cfg.auth.aws_bearer_token;
    else this.credentials = new BedrockCredentials(cfg, opts.credentials, opts.stsEndpoint);
  }

  /** One signer per credential source (per role session with assume_role.session_name). */
  private signerFor(req: UpstreamRequest): SignatureV4 {
    const credentials = this.credentials!.for(req.principal);
    const key = typeof credentials === 'function' ? credentials : (credentials as object);
    let signer = this.signers.get(key);
    if (!signer) {
      signer = new SignatureV4({ service: 'bedrock', region: this.cfg.region, credentials, sha256: Sha256 });
      this.signers.set(key, signer);
    }
    return signer;
  }

  setLog(log: OperatorLog): void {
    this.log = log;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const modelId = cloudModelId('bedrock', req.upstreamModel);
    if (req.operation === 'count_tokens') return this.countTokens(req, modelId);
    // With a guardrail configured, callers must not be able to steer Bedrock-specific fields.
    if (this.cfg.guardrail && Object.keys(req.body).some((k) => k.startsWith('amazon-bedrock-'))) {
      return errorResponse(400, 'invalid_request_error', 'amazon-bedrock-* fields are not allowed when the gateway applies a guardrail', req.requestId);
    }
    const body = Buffer.from(JSON.stringify(bedrockBody(req.body, req.headers)));
    const action = req.stream ? 'invoke-with-response-stream' : 'invoke';
    const res = await this.post(`${this.basePath}/model/${bedrockPathSegment(modelId)}/${action}`, body, req);
    if (res.statusCode < 200 || res.statusCode >= 300) return this.errorFrom(res, req, modelId);
    if (!req.stream) return bodyResponse(res.statusCode, { 'content-type': 'application/json' }, res);
    let exception: { type: string; message: string } | undefined;
    const sse = bedrockToSse(res.body, {
      pingIntervalMs: this.opts.pingIntervalMs,
      onException: (exceptionType, message) => {
        exception = { type: exceptionType, message };
        this.log({ upstream: this.name, requestId: req.requestId, exceptionType, providerMessage: message }, 'bedrock stream exception');
      },
    });
    // Wait for the first event before answering, as the official gateway does: an exception
    // before any event (throttling, model errors) is then a status failover can act on.
    let first: IteratorResult<Buffer>;
    try {
      first = await sse.next();
    } catch (err) {
      if (req.signal.aborted) throw err;
      throw new UpstreamConnectError(this.name, err);
    }
    if (exception) {
      void sse.return(undefined).catch(() => {});
      res.body.destroy();
      const status = bedrockExceptionStatus(exception.type);
      const s = sanitizeCloudError('bedrock', status, JSON.stringify({ message: exception.message }));
      return errorResponse(s.status, s.type, s.message, req.requestId);
    }
    async function* relay(): AsyncGenerator<Buffer> {
      if (!first.done) yield first.value;
      yield* sse;
    }
    return bodyResponse(res.statusCode, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }, res, relay());
  }

  private async countTokens(req: UpstreamRequest, modelId: string): Promise<UpstreamResponse> {
    const foundation = bedrockFoundationId(modelId);
    const skipUntil = foundation ? this.countSkip.get(foundation) : undefined;
    if (!foundation || (skipUntil !== undefined && skipUntil > this.now())) return notSupported(req);
    const invokeBody = { ...bedrockBody(req.body, req.headers), max_tokens: 1 };
    const payload = { input: { invokeModel: { body: Buffer.from(JSON.stringify(invokeBody)).toString('base64') } } };
    const res = await this.post(`${this.basePath}/model/${bedrockPathSegment(foundation)}/count-tokens`, Buffer.from(JSON.stringify(payload)), req);
    const text = await readText(res, this.name);
    let inputTokens: unknown;
    try {
      inputTokens = (JSON.parse(text) as { inputTokens?: unknown }).inputTokens;
    } catch {
      /* not an AWS answer */
    }
    if (res.statusCode === 200 && typeof inputTokens === 'number') return jsonResponse(200, { input_tokens: inputTokens });
    this.countSkip.set(foundation, this.now() + COUNT_SKIP_MS);
    this.log(
      { upstream: this.name, requestId: req.requestId, status: res.statusCode, model: foundation, providerBody: text.slice(0, 2000) },
      'bedrock CountTokens failed; counting skipped for this model for 10 minutes',
    );
    return notSupported(req);
  }

  private async post(path: string, body: Buffer, req: UpstreamRequest) {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'anthropic-version': req.headers['anthropic-version'] ?? '2023-06-01',
      'content-type': 'application/json',
      host: this.base.host,
      ...(this.cfg.headers ?? {}),
    };
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-stainless-')) headers[k] = v;
    if (this.cfg.guardrail) {
      headers['x-amzn-bedrock-guardrailidentifier'] = this.cfg.guardrail.id;
      headers['x-amzn-bedrock-guardrailversion'] = this.cfg.guardrail.version;
    }
    let sent = headers;
    if (this.bearer) {
      sent = { ...headers, authorization: `Bearer ${this.bearer}` };
    } else {
      const request = new HttpRequest({
        method: 'POST',
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        port: this.base.port ? Number(this.base.port) : undefined,
        path,
        headers,
        body,
      });
      try {
        sent = (await this.signerFor(req).sign(request)).headers;
      } catch (err) {
        // No credentials (chain empty, STS refused the role): this upstream is unusable now.
        this.log({ upstream: this.name, requestId: req.requestId, err: (err as Error).message }, 'bedrock credentials unavailable');
        throw new UpstreamConnectError(this.name, new Error('AWS credentials unavailable'));
      }
    }
    return this.http.post(path, sent, body, req.signal);
  }

  private async errorFrom(res: Awaited<ReturnType<CloudHttp['post']>>, req: UpstreamRequest, modelId: string): Promise<UpstreamResponse> {
    const text = await readText(res, this.name);
    this.log(
      {
        upstream: this.name,
        requestId: req.requestId,
        status: res.statusCode,
        model: modelId,
        amznRequestId: headerValue(res.headers['x-amzn-requestid']),
        amznErrorType: headerValue(res.headers['x-amzn-errortype']),
        providerBody: text.slice(0, 2000),
      },
      'bedrock answered with an error',
    );
    const s = sanitizeCloudError('bedrock', res.statusCode, text);
    return errorResponse(s.status, s.type, s.message, req.requestId, relayedErrorHeaders(s.status, res.headers));
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export function notSupported(req: UpstreamRequest): UpstreamResponse {
  const r = renderAnthropicError(new GatewayError('NOT_SUPPORTED', 'count_tokens is not supported by this upstream for this model'), req.requestId);
  return jsonResponse(r.status, r.body, { 'x-should-retry': 'false' });
}

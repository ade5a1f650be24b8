/**
 * Sign-in client for a Tollgate (or any compatible) gateway: RFC 8414 discovery, RFC 8628 device
 * grant with polling, refresh, RFC 7009 revocation. Pure TypeScript, no `vscode` and no Node
 * built-ins beyond `fetch`, so the VS Code extension, scripts and tests share it. Every response
 * is validated with the schemas in ./oauth.
 *
 *   const client = new DeviceFlowClient({ baseUrl });
 *   const start = await client.start({ surface: 'vscode' });   // show start.user_code, open start.verification_uri_complete
 *   const tokens = await client.poll(start, { signal });       // resolves when the person approves
 *   const next = await client.refresh(tokens.refresh_token!);  // before tokens.expires_in runs out
 *   await client.revoke(tokens);                               // at sign-out
 */
import {
  authorizationServerMetadataSchema,
  DEVICE_CODE_GRANT,
  deviceAuthorizationResponseSchema,
  oauthErrorResponseSchema,
  tokenResponseSchema,
  type AuthorizationServerMetadata,
  type DeviceAuthorizationResponse,
  type TokenResponse,
} from './oauth';

export interface DeviceFlowClientOptions {
  /** The gateway's base URL, e.g. https://gw.example.com */
  baseUrl: string;
  /** Injected for tests and for environments with a custom fetch (proxies, pinned TLS). */
  fetch?: typeof fetch;
  /** Injected so tests need not wait real seconds. Must reject with the signal's reason when aborted. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Sent as User-Agent where the runtime allows it. */
  userAgent?: string;
}

/** Why sign-in or refresh ended without tokens. `code` is the OAuth error code or one of ours. */
export class DeviceFlowError extends Error {
  constructor(
    readonly code: 'access_denied' | 'expired_token' | 'invalid_grant' | 'temporarily_unavailable' | 'aborted' | 'bad_response' | 'http_error' | string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeviceFlowError';
  }
  /** True when the caller should keep its refresh token and retry later (IdP or network blip). */
  get transient(): boolean {
    return this.code === 'temporarily_unavailable' || this.code === 'http_error' || (this.status !== undefined && this.status >= 500);
  }
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class DeviceFlowClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private metadata?: AuthorizationServerMetadata;

  constructor(private readonly opts: DeviceFlowClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? ((...a) => fetch(...a));
    this.sleep = opts.sleep ?? defaultSleep;
  }

  /** RFC 8414 metadata; endpoints that are not same-origin absolute URLs fall back to the defaults (as Claude Code does). */
  async discover(): Promise<AuthorizationServerMetadata> {
    if (this.metadata) return this.metadata;
    const res = await this.send(`${this.base}/.well-known/oauth-authorization-server`, { method: 'GET' });
    const parsed = authorizationServerMetadataSchema.safeParse(await this.json(res));
    if (!res.ok || !parsed.success) throw new DeviceFlowError('bad_response', `gateway discovery failed (HTTP ${res.status})`, res.status);
    const origin = new URL(this.base).origin;
    const same = (u: string | undefined) => (u && URL.canParse(u) && new URL(u).origin === origin ? u : undefined);
    this.metadata = {
      ...parsed.data,
      device_authorization_endpoint: same(parsed.data.device_authorization_endpoint) ?? `${this.base}/oauth/device_authorization`,
      token_endpoint: same(parsed.data.token_endpoint) ?? `${this.base}/oauth/token`,
      revocation_endpoint: same(parsed.data.revocation_endpoint),
    };
    return this.metadata;
  }

  /** Start a device sign-in. Show `user_code` and open `verification_uri_complete` (or `verification_uri`). */
  async start(params: { surface?: string } = {}): Promise<DeviceAuthorizationResponse> {
    const md = await this.discover();
    const res = await this.post(md.device_authorization_endpoint, params.surface ? { surface: params.surface } : {});
    const body = await this.json(res);
    if (!res.ok) throw this.oauthError(res, body);
    const parsed = deviceAuthorizationResponseSchema.safeParse(body);
    if (!parsed.success) throw new DeviceFlowError('bad_response', 'the gateway sent an invalid device authorization response');
    return parsed.data;
  }

  /**
   * Poll until the person approves (tokens), denies (`access_denied`) or the code expires
   * (`expired_token`). Honours `interval` and adds 5 s on every `slow_down` (RFC 8628 §3.5).
   */
  async poll(start: DeviceAuthorizationResponse, opts: { signal?: AbortSignal } = {}): Promise<TokenResponse> {
    const md = await this.discover();
    let interval = (start.interval ?? 5) * 1000;
    let waited = 0;
    const budget = start.expires_in * 1000;
    for (;;) {
      await this.sleep(interval, opts.signal).catch(() => {
        throw new DeviceFlowError('aborted', 'sign-in was cancelled');
      });
      waited += interval;
      const res = await this.post(md.token_endpoint, { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code }, opts.signal).catch((err) => {
        if (opts.signal?.aborted) throw new DeviceFlowError('aborted', 'sign-in was cancelled');
        throw err;
      });
      const body = await this.json(res);
      if (res.ok) return this.tokens(body);
      const err = oauthErrorResponseSchema.safeParse(body);
      const code = err.success ? err.data.error : undefined;
      if (code === 'authorization_pending' || (res.status >= 500 && waited < budget)) {
        if (waited >= budget) throw new DeviceFlowError('expired_token', 'the sign-in code expired: start again');
        continue;
      }
      if (code === 'slow_down') {
        interval += 5000;
        continue;
      }
      throw this.oauthError(res, body);
    }
  }

  /** Exchange a refresh token for a new pair. `invalid_grant`: sign in again; `transient`: keep the token, retry later. */
  async refresh(refreshToken: string): Promise<TokenResponse> {
    const md = await this.discover();
    const res = await this.post(md.token_endpoint, { grant_type: 'refresh_token', refresh_token: refreshToken });
    const body = await this.json(res);
    if (!res.ok) throw this.oauthError(res, body);
    return this.tokens(body);
  }

  /** Best-effort RFC 7009 sign-out: the access token, then the refresh token. False when the gateway offers no revocation. */
  async revoke(tokens: { access_token?: string; refresh_token?: string }): Promise<boolean> {
    this.metadata = undefined; // gateways may have gained revocation since sign-in: re-read discovery
    const md = await this.discover();
    if (!md.revocation_endpoint) return false;
    if (tokens.access_token) await this.post(md.revocation_endpoint, { token: tokens.access_token, token_type_hint: 'access_token' });
    if (tokens.refresh_token) await this.post(md.revocation_endpoint, { token: tokens.refresh_token, token_type_hint: 'refresh_token' });
    return true;
  }

  private tokens(body: unknown): TokenResponse {
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new DeviceFlowError('bad_response', 'the gateway sent an invalid token response');
    return parsed.data;
  }

  private oauthError(res: Response, body: unknown): DeviceFlowError {
    const err = oauthErrorResponseSchema.safeParse(body);
    if (err.success) return new DeviceFlowError(err.data.error, err.data.error_description ?? err.data.error, res.status);
    return new DeviceFlowError('http_error', `the gateway answered HTTP ${res.status}`, res.status);
  }

  private post(url: string, form: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    return this.send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(), signal });
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept', 'application/json');
    if (this.opts.userAgent) headers.set('user-agent', this.opts.userAgent);
    try {
      return await this.fetchImpl(url, { ...init, headers });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new DeviceFlowError('http_error', `could not reach the gateway: ${(err as Error).message}`);
    }
  }

  private async json(res: Response): Promise<unknown> {
    try {
      return await res.json();
    } catch {
      return undefined;
    }
  }
}

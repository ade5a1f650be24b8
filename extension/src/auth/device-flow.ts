/**
 * Sign-in client for the gateway protocol (gateway-protocol.md §2.1-§2.5): discovery, the RFC 8628
 * device grant with polling, refresh and RFC 7009 revocation. Pure: no `vscode`; fetch, sleep and
 * clock are injected so tests drive it against a real loopback server without waiting.
 */
import {
  DEVICE_CODE_GRANT,
  authorizationServerMetadataSchema,
  deviceAuthorizationResponseSchema,
  oauthErrorResponseSchema,
  tokenResponseSchema,
  type DeviceAuthorizationResponse,
  type TokenResponse,
} from '../../../gateway-server/src/protocol/oauth';

/** Stable codes the UI maps to sentences (see `signInMessage`). Never match on message text. */
export type SignInErrorCode =
  | 'ACCESS_DENIED'
  | 'EXPIRED'
  | 'CANCELLED'
  | 'INVALID_GRANT'
  | 'UNAVAILABLE'
  | 'UNREACHABLE'
  | 'BAD_RESPONSE';

export class SignInError extends Error {
  constructor(
    readonly code: SignInErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SignInError';
  }
}

export interface OAuthEndpoints {
  deviceAuthorization: string;
  token: string;
  revocation?: string;
}

export interface DeviceFlowDeps {
  fetch: typeof fetch;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
}

export const defaultDeps: DeviceFlowDeps = {
  fetch: (...args) => fetch(...args),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new SignInError('CANCELLED', 'sign-in cancelled'));
      }, { once: true });
    }),
  now: () => Date.now(),
};

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

function sameOrigin(url: string | undefined, base: URL): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin === base.origin ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Strip trailing slashes so `{base}/path` joins cleanly whatever the user typed. */
export function normaliseBaseUrl(raw: string): string {
  return raw.trim().replace(/\/+$/, '');
}

/**
 * Discovery with the protocol's fallbacks: an endpoint that is not an absolute same-origin URL
 * becomes `{base}/oauth/…`, and revocation is then skipped (§2.1).
 */
export async function discover(baseUrl: string, deps: Pick<DeviceFlowDeps, 'fetch'> = defaultDeps): Promise<OAuthEndpoints> {
  const base = new URL(normaliseBaseUrl(baseUrl));
  let res: Response;
  try {
    res = await deps.fetch(`${normaliseBaseUrl(baseUrl)}/.well-known/oauth-authorization-server`, { headers: { accept: 'application/json' }, redirect: 'manual' });
  } catch (err) {
    throw new SignInError('UNREACHABLE', `could not reach ${base.origin}`, { cause: err });
  }
  const fallback = { deviceAuthorization: `${normaliseBaseUrl(baseUrl)}/oauth/device_authorization`, token: `${normaliseBaseUrl(baseUrl)}/oauth/token` };
  if (!res.ok) {
    if (res.status >= 500) throw new SignInError('UNAVAILABLE', `discovery answered ${res.status}`);
    return fallback;
  }
  const parsed = authorizationServerMetadataSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success) return fallback;
  const m = parsed.data;
  const deviceAuthorization = sameOrigin(m.device_authorization_endpoint, base);
  const token = sameOrigin(m.token_endpoint, base);
  const revocation = sameOrigin(m.revocation_endpoint, base);
  return {
    deviceAuthorization: deviceAuthorization ?? fallback.deviceAuthorization,
    token: token ?? fallback.token,
    ...(revocation && deviceAuthorization && token ? { revocation } : {}),
  };
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function post(deps: Pick<DeviceFlowDeps, 'fetch'>, url: string, form: Record<string, string>): Promise<Response> {
  try {
    return await deps.fetch(url, { method: 'POST', headers: FORM, body: new URLSearchParams(form).toString(), redirect: 'manual' });
  } catch (err) {
    throw new SignInError('UNREACHABLE', `could not reach ${new URL(url).origin}`, { cause: err });
  }
}

export async function startDeviceAuthorization(endpoints: OAuthEndpoints, deps: Pick<DeviceFlowDeps, 'fetch'> = defaultDeps): Promise<DeviceAuthorizationResponse> {
  const res = await post(deps, endpoints.deviceAuthorization, { surface: 'vscode' });
  const body = await readJson(res);
  if (res.status === 429) throw new SignInError('UNAVAILABLE', 'too many sign-in attempts from this network; wait a few minutes');
  if (!res.ok) throw new SignInError(res.status >= 500 ? 'UNAVAILABLE' : 'BAD_RESPONSE', `device authorization answered ${res.status}`);
  const parsed = deviceAuthorizationResponseSchema.safeParse(body);
  if (!parsed.success) throw new SignInError('BAD_RESPONSE', 'device authorization response is not RFC 8628');
  return parsed.data;
}

/**
 * Polls the token endpoint every `interval` seconds (default 5, RFC 8628 §3.5) until the user
 * approves, denies or the code expires; `slow_down` adds 5 s to the interval for good.
 */
export async function pollForToken(
  endpoints: OAuthEndpoints,
  grant: DeviceAuthorizationResponse,
  opts: { signal?: AbortSignal; onPoll?: (intervalSec: number) => void } = {},
  deps: DeviceFlowDeps = defaultDeps,
): Promise<TokenResponse> {
  let interval = grant.interval ?? 5;
  const deadline = deps.now() + grant.expires_in * 1000;
  for (;;) {
    if (opts.signal?.aborted) throw new SignInError('CANCELLED', 'sign-in cancelled');
    await deps.sleep(interval * 1000, opts.signal);
    if (opts.signal?.aborted) throw new SignInError('CANCELLED', 'sign-in cancelled');
    if (deps.now() > deadline) throw new SignInError('EXPIRED', 'the sign-in code expired');
    opts.onPoll?.(interval);
    const res = await post(deps, endpoints.token, { grant_type: DEVICE_CODE_GRANT, device_code: grant.device_code });
    const body = await readJson(res);
    if (res.ok) {
      const parsed = tokenResponseSchema.safeParse(body);
      if (!parsed.success) throw new SignInError('BAD_RESPONSE', 'token response is not RFC 6749');
      return parsed.data;
    }
    const err = oauthErrorResponseSchema.safeParse(body);
    const code = err.success ? err.data.error : undefined;
    if (code === 'authorization_pending') continue;
    if (code === 'slow_down') {
      interval += 5;
      continue;
    }
    if (code === 'access_denied') throw new SignInError('ACCESS_DENIED', 'the sign-in request was denied');
    if (code === 'expired_token') throw new SignInError('EXPIRED', 'the sign-in code expired');
    if (res.status >= 500 || code === 'temporarily_unavailable') continue; // a blip; the deadline still bounds us
    throw new SignInError('BAD_RESPONSE', `token endpoint answered ${res.status}${code ? ` ${code}` : ''}`);
  }
}

/** §2.4 refresh: `invalid_grant` means re-login; 5xx/`temporarily_unavailable` keeps the refresh token. */
export async function refreshToken(endpoints: OAuthEndpoints, refresh: string, deps: Pick<DeviceFlowDeps, 'fetch'> = defaultDeps): Promise<TokenResponse> {
  const res = await post(deps, endpoints.token, { grant_type: 'refresh_token', refresh_token: refresh });
  const body = await readJson(res);
  if (res.ok) {
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw new SignInError('BAD_RESPONSE', 'refresh response is not RFC 6749');
    return parsed.data;
  }
  const err = oauthErrorResponseSchema.safeParse(body);
  const code = err.success ? err.data.error : undefined;
  if (code === 'invalid_grant' || res.status === 401) throw new SignInError('INVALID_GRANT', 'the gateway ended this session');
  throw new SignInError('UNAVAILABLE', `refresh answered ${res.status}${code ? ` ${code}` : ''}`);
}

/** RFC 7009, best effort: access token first, then the refresh token with its hint (§2.5). */
export async function revokeTokens(endpoints: OAuthEndpoints, tokens: { access: string; refresh?: string }, deps: Pick<DeviceFlowDeps, 'fetch'> = defaultDeps): Promise<boolean> {
  if (!endpoints.revocation) return false;
  let ok = true;
  const forms: Record<string, string>[] = [{ token: tokens.access }];
  if (tokens.refresh) forms.push({ token: tokens.refresh, token_type_hint: 'refresh_token' });
  for (const form of forms) {
    try {
      const res = await post(deps, endpoints.revocation, form);
      ok &&= res.ok;
    } catch {
      ok = false;
    }
  }
  return ok;
}

/**
 * The extension's view of the shared sign-in client (gateway-server/src/protocol/device-flow-client.ts:
 * discovery, RFC 8628 device grant, refresh, RFC 7009 revocation): one constructor with the
 * extension's defaults, and its errors mapped to the stable codes the UI turns into sentences.
 * Pure: no `vscode`; fetch and sleep are injectable.
 */
import { DeviceFlowClient, DeviceFlowError } from '../../../gateway-server/src/protocol/device-flow-client';
import type { DeviceAuthorizationResponse, TokenResponse } from '../../../gateway-server/src/protocol/oauth';

/** Stable codes the UI maps to sentences (see platform/messages.ts). Never match on message text. */
export type SignInErrorCode = 'ACCESS_DENIED' | 'EXPIRED' | 'CANCELLED' | 'INVALID_GRANT' | 'UNAVAILABLE' | 'UNREACHABLE' | 'BAD_RESPONSE';

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

export interface DeviceFlowDeps {
  fetch: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
}

/** Strip trailing slashes so `{base}/path` joins cleanly whatever the user typed. */
export function normaliseBaseUrl(raw: string): string {
  return raw.trim().replace(/\/+$/, '');
}

export function createSignInClient(baseUrl: string, deps: Partial<DeviceFlowDeps> & { userAgent?: string } = {}): DeviceFlowClient {
  return new DeviceFlowClient({
    baseUrl: normaliseBaseUrl(baseUrl),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    userAgent: deps.userAgent ?? 'tollgate-vscode/0.1.0',
  });
}

export function toSignInError(err: unknown): SignInError {
  if (err instanceof SignInError) return err;
  if (!(err instanceof DeviceFlowError)) return new SignInError('BAD_RESPONSE', (err as Error)?.message ?? String(err), { cause: err });
  const code: SignInErrorCode =
    err.code === 'access_denied' ? 'ACCESS_DENIED'
    : err.code === 'expired_token' ? 'EXPIRED'
    : err.code === 'aborted' ? 'CANCELLED'
    : err.code === 'invalid_grant' ? 'INVALID_GRANT'
    : err.code === 'http_error' && err.status === undefined ? 'UNREACHABLE'
    : err.transient || err.code === 'slow_down' ? 'UNAVAILABLE'
    : 'BAD_RESPONSE';
  return new SignInError(code, err.message, { cause: err });
}

const mapped = <T>(p: Promise<T>): Promise<T> => p.catch((err) => Promise.reject(toSignInError(err)));

/** `surface` labels the session in audit rows: `vscode` for the extension, `cli` for the `tollgate` command. */
export const startDeviceAuthorization = (client: DeviceFlowClient, surface = 'vscode'): Promise<DeviceAuthorizationResponse> => mapped(client.start({ surface }));

export const pollForToken = (client: DeviceFlowClient, grant: DeviceAuthorizationResponse, opts: { signal?: AbortSignal } = {}): Promise<TokenResponse> =>
  mapped(client.poll(grant, opts.signal ? { signal: opts.signal } : {}));

/** `INVALID_GRANT` means sign in again; `UNAVAILABLE`/`UNREACHABLE`: keep the refresh token. */
export const refreshToken = (client: DeviceFlowClient, refresh: string): Promise<TokenResponse> => mapped(client.refresh(refresh));

/** Best effort at sign-out; false when the gateway offers no revocation or could not be reached. */
export const revokeTokens = (client: DeviceFlowClient, tokens: { access: string; refresh?: string }): Promise<boolean> =>
  client.revoke({ access_token: tokens.access, ...(tokens.refresh ? { refresh_token: tokens.refresh } : {}) }).catch(() => false);

/**
 * What the `tollgate` command does with a gateway session, free of terminal I/O so the VS Code
 * extension and tests can call it: sign in with the device grant, hand out a bearer that works
 * (refreshing under the file lock when the gateway refuses the current one or it is about to
 * expire), sign out with revocation.
 */
import { createSignInClient, pollForToken, refreshToken, revokeTokens, SignInError, startDeviceAuthorization } from '../../../extension/src/auth/device-flow';
import { sessionFromTokens } from '../../../extension/src/auth/session';
import type { DeviceAuthorizationResponse } from '../../../gateway-server/src/protocol/oauth';
import { readSession, removeSession, withLock, writeSession, type StoredSession } from './credentials';

export interface SessionDeps {
  gatewayUrl: string;
  /** The credentials file of this gateway (paths.ts credentialsFile). */
  file: string;
  fetch?: typeof fetch;
  now?: () => number;
}

/** Why no bearer could be handed out; `message` is a sentence for the developer. */
export class TokenError extends Error {
  constructor(
    readonly code: 'SIGNED_OUT' | 'SESSION_ENDED' | 'UNREACHABLE',
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

export const USER_AGENT = 'tollgate-cli/0.1.0';

/** Refresh a bearer that expires within this margin rather than hand out one about to die. */
const MARGIN_MS = 60_000;

const fetchOf = (d: SessionDeps): typeof fetch => d.fetch ?? ((...a) => fetch(...a));
const nowOf = (d: SessionDeps): number => (d.now ?? Date.now)();
const loginHint = (url: string) => `run \`tollgate login --gateway ${url}\` to sign in again`;

export async function login(
  d: SessionDeps & { surface?: string; signal?: AbortSignal; onCode: (start: DeviceAuthorizationResponse) => void },
): Promise<StoredSession> {
  const client = createSignInClient(d.gatewayUrl, { fetch: fetchOf(d), userAgent: USER_AGENT });
  const start = await startDeviceAuthorization(client, d.surface ?? 'cli');
  d.onCode(start);
  const tokens = await pollForToken(client, start, d.signal ? { signal: d.signal } : {});
  const session = sessionFromTokens(d.gatewayUrl, tokens, nowOf(d));
  await withLock(d.file, () => writeSession(d.file, session));
  return session;
}

/**
 * Ask the gateway whether it still takes this bearer (GET /v1/me). Codex re-runs its auth
 * command after a 401 without saying why; only the gateway knows a bearer was revoked or that
 * its clock says expired, so the check is what makes the re-run hand out a different token.
 */
async function accepted(d: SessionDeps, token: string): Promise<boolean | undefined> {
  try {
    const res = await fetchOf(d)(`${d.gatewayUrl}/v1/me`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 401) return false;
    return res.ok ? true : undefined;
  } catch {
    return undefined; // unreachable: let the agent find out itself, with its own retries
  }
}

/** A bearer the gateway accepts now, refreshing first when needed. Throws TokenError. */
export async function freshToken(d: SessionDeps): Promise<string> {
  const s = await readSession(d.file);
  if (!s) throw new TokenError('SIGNED_OUT', `Not signed in to ${d.gatewayUrl}: ${loginHint(d.gatewayUrl).replace(' again', '')}.`);
  if (s.expiresAt - nowOf(d) > MARGIN_MS && (await accepted(d, s.accessToken)) !== false) return s.accessToken;
  return refreshUnderLock(d, s.accessToken);
}

async function refreshUnderLock(d: SessionDeps, stale: string): Promise<string> {
  return withLock(d.file, async () => {
    const cur = await readSession(d.file);
    if (!cur) throw new TokenError('SIGNED_OUT', `Signed out of ${d.gatewayUrl} meanwhile: ${loginHint(d.gatewayUrl)}.`);
    // Another process refreshed while this one waited for the lock: its token is the fresh one.
    if (cur.accessToken !== stale && cur.expiresAt - nowOf(d) > MARGIN_MS) return cur.accessToken;
    if (!cur.refreshToken) throw new TokenError('SESSION_ENDED', `Your Tollgate session at ${d.gatewayUrl} has ended: ${loginHint(d.gatewayUrl)}.`);
    try {
      const tokens = await refreshToken(createSignInClient(d.gatewayUrl, { fetch: fetchOf(d), userAgent: USER_AGENT }), cur.refreshToken);
      const next = sessionFromTokens(d.gatewayUrl, tokens, nowOf(d), cur);
      await writeSession(d.file, next);
      return next.accessToken;
    } catch (err) {
      if (err instanceof SignInError && err.code === 'INVALID_GRANT') {
        await removeSession(d.file);
        throw new TokenError('SESSION_ENDED', `Your Tollgate session at ${d.gatewayUrl} has ended (${err.message}): ${loginHint(d.gatewayUrl)}.`);
      }
      // The identity provider or the gateway is down: a bearer that has not expired may still work.
      if (cur.expiresAt > nowOf(d) && cur.accessToken !== stale) return cur.accessToken;
      throw new TokenError('UNREACHABLE', `Could not refresh the Tollgate session at ${d.gatewayUrl} (${(err as Error).message}); try again shortly.`);
    }
  });
}

/** Forget locally first (nothing keeps using it), then revoke at the gateway. */
export async function logout(d: SessionDeps): Promise<{ wasSignedIn: boolean; revoked: boolean }> {
  const s = await withLock(d.file, async () => {
    const cur = await readSession(d.file);
    await removeSession(d.file);
    return cur;
  });
  if (!s) return { wasSignedIn: false, revoked: false };
  const revoked = await revokeTokens(createSignInClient(d.gatewayUrl, { fetch: fetchOf(d), userAgent: USER_AGENT }), { access: s.accessToken, ...(s.refreshToken ? { refresh: s.refreshToken } : {}) });
  return { wasSignedIn: true, revoked };
}

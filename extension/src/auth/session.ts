/**
 * The signed-in session: what is kept in SecretStorage, and the account shown in the editor.
 * Claims are decoded unverified (gateway-protocol.md §2.12): the gateway verifies, we only label.
 */
import { z } from 'zod';
import type { TokenResponse } from '../../../gateway-server/src/protocol/oauth';

export const storedSessionSchema = z.object({
  gatewayUrl: z.string(),
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).optional(),
  /** Epoch ms; from `expires_in`, else the JWT `exp`, else one hour. */
  expiresAt: z.number(),
  account: z.object({ id: z.string(), label: z.string(), email: z.string().nullable(), name: z.string().nullable(), groups: z.array(z.string()) }),
  sessionId: z.string(),
});
export type StoredSession = z.infer<typeof storedSessionSchema>;

export interface TokenClaims {
  sub?: string;
  email?: string;
  name?: string;
  groups?: string[];
  exp?: number;
}

export function decodeClaims(token: string): TokenClaims {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const obj = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    return {
      ...(typeof obj.sub === 'string' ? { sub: obj.sub } : {}),
      ...(typeof obj.email === 'string' ? { email: obj.email } : {}),
      ...(typeof obj.name === 'string' ? { name: obj.name } : {}),
      ...(Array.isArray(obj.groups) ? { groups: obj.groups.filter((g): g is string => typeof g === 'string') } : {}),
      ...(typeof obj.exp === 'number' ? { exp: obj.exp } : {}),
    };
  } catch {
    return {};
  }
}

export function sessionFromTokens(gatewayUrl: string, tokens: TokenResponse, now: number, previous?: StoredSession): StoredSession {
  const claims = decodeClaims(tokens.access_token);
  const expiresAt = tokens.expires_in ? now + tokens.expires_in * 1000 : claims.exp ? claims.exp * 1000 : now + 3600_000;
  const email = tokens.email?.trim() || claims.email || previous?.account.email || null;
  const id = claims.sub ?? previous?.account.id ?? email ?? 'gateway-user';
  return {
    gatewayUrl,
    accessToken: tokens.access_token,
    // Rotation is optional: keep the old refresh token when the gateway does not send a new one.
    ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : previous?.refreshToken ? { refreshToken: previous.refreshToken } : {}),
    expiresAt,
    account: {
      id,
      label: email ?? claims.name ?? id,
      email,
      name: claims.name ?? previous?.account.name ?? null,
      groups: claims.groups ?? previous?.account.groups ?? [],
    },
    sessionId: previous?.sessionId ?? `${id}@${new URL(gatewayUrl).host}`,
  };
}

/**
 * When to refresh silently: at 80% of the remaining lifetime but at least 60 s before expiry,
 * never in the past. Returns ms from `now`.
 */
export function refreshDelay(expiresAt: number, now: number): number {
  const remaining = expiresAt - now;
  if (remaining <= 60_000) return 0;
  return Math.max(0, Math.min(remaining * 0.8, remaining - 60_000));
}

/** A token needs refreshing before use when it expires within this margin. */
export const REFRESH_MARGIN_MS = 30_000;

/**
 * Session bearer tokens: HS256 JWTs in the official gateway's format, so a token minted by
 * either gateway has the same shape. Signing and verification use node:crypto directly: this
 * runs on every request, and a synchronous HMAC costs a few microseconds where a WebCrypto
 * round trip costs tens. Parsing goes through `jose` (decodeProtectedHeader/decodeJwt), which
 * refuses every malformed header or payload (JSON `null`, arrays, bad base64url) with one error
 * type. `exp` is required (the official gateway accepts tokens without it; we do not); `nbf`, when
 * present, is enforced with the configured clock skew.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { GatewayError } from '../errors';
import { hasUnstorableText } from '../edge/input-text';

export const SESSION_AUDIENCE = 'claude-gateway';

export interface SessionClaims {
  sub: string;
  email?: string;
  name?: string;
  groups?: string[];
  aud: string;
  iss: string;
  iat: number;
  exp: number;
  /** Session id: shared by every token minted from one sign-in, so one revocation ends all of them. */
  sid?: string;
  jti?: string;
  billing_group_tag?: string;
}

/** Who is calling, as every feature sees it after authentication. */
export interface Principal {
  sub: string;
  email?: string;
  name?: string;
  groups: readonly string[];
  exp: number;
  sid?: string;
  jti?: string;
  /** SHA-256 (hex) of the raw bearer, for revocation lists and logs; never the token itself. */
  tokenHash: string;
}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

/** First 16 hex characters of SHA-256(secret), as the official gateway. */
export function keyId(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface MintInput {
  sub: string;
  email?: string;
  name?: string;
  groups?: string[];
  sid?: string;
  billingGroupTag?: string;
}

export class SessionTokens {
  private readonly keys: { kid: string; secret: Buffer }[];
  private readonly cache = new Map<string, Principal>();
  private static readonly CACHE_MAX = 20_000;

  constructor(
    secrets: readonly string[],
    private readonly issuer: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
    /** Tolerated clock difference for `nbf` (oidc.clock_skew_seconds). */
    private readonly clockSkewSeconds = 0,
  ) {
    if (secrets.length === 0) throw new Error('at least one session.jwt_secret is required');
    this.keys = secrets.map((s) => ({ kid: keyId(s), secret: Buffer.from(s) }));
  }

  mint(input: MintInput): { token: string; claims: SessionClaims } {
    const iat = Math.floor(this.now() / 1000);
    const claims: SessionClaims = {
      sub: input.sub,
      ...(input.email ? { email: input.email } : {}),
      ...(input.name ? { name: input.name } : {}),
      groups: input.groups ?? [],
      aud: SESSION_AUDIENCE,
      iss: this.issuer,
      iat,
      exp: iat + this.ttlSeconds,
      sid: input.sid ?? randomUUID(),
      jti: randomUUID(),
      ...(input.billingGroupTag ? { billing_group_tag: input.billingGroupTag } : {}),
    };
    const key = this.keys[0]!;
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: key.kid }));
    const payload = b64url(JSON.stringify(claims));
    const sig = createHmac('sha256', key.secret).update(`${header}.${payload}`).digest('base64url');
    return { token: `${header}.${payload}.${sig}`, claims };
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  /** Verify a raw bearer token; throws GatewayError AUTH_INVALID / AUTH_EXPIRED. */
  verify(token: string): Principal {
    const nowS = this.now() / 1000;
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.exp > nowS) return cached;
      this.cache.delete(token);
      throw new GatewayError('AUTH_EXPIRED');
    }
    const parts = token.split('.');
    if (parts.length !== 3) throw new GatewayError('AUTH_INVALID');
    const [h, p, s] = parts as [string, string, string];
    let header: ProtectedHeaderParameters;
    let claims: JWTPayload & Partial<SessionClaims>;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new GatewayError('AUTH_INVALID');
    }
    if (header.alg !== 'HS256') throw new GatewayError('AUTH_INVALID');
    const candidates = typeof header.kid === 'string' ? this.keys.filter((k) => k.kid === header.kid) : this.keys;
    const given = Buffer.from(s, 'base64url');
    const ok = candidates.some((k) => {
      const expected = createHmac('sha256', k.secret).update(`${h}.${p}`).digest();
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!ok) throw new GatewayError('AUTH_INVALID');
    if (claims.aud !== SESSION_AUDIENCE || claims.iss !== this.issuer) throw new GatewayError('AUTH_INVALID');
    // The subject reaches PostgreSQL text (audit, spend); one it cannot store is no identity.
    if (typeof claims.sub !== 'string' || !claims.sub || hasUnstorableText(claims.sub)) throw new GatewayError('AUTH_INVALID');
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new GatewayError('AUTH_INVALID');
    if (claims.exp <= nowS) throw new GatewayError('AUTH_EXPIRED');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowS + this.clockSkewSeconds)) {
      throw new GatewayError('AUTH_INVALID');
    }
    const principal: Principal = Object.freeze({
      sub: claims.sub,
      email: typeof claims.email === 'string' ? claims.email : undefined,
      name: typeof claims.name === 'string' ? claims.name : undefined,
      groups: Object.freeze(Array.isArray(claims.groups) ? claims.groups.filter((g): g is string => typeof g === 'string') : []),
      exp: claims.exp,
      sid: typeof claims.sid === 'string' ? claims.sid : undefined,
      jti: typeof claims.jti === 'string' ? claims.jti : undefined,
      tokenHash: hashToken(token),
    });
    if (this.cache.size >= SessionTokens.CACHE_MAX) this.cache.clear();
    this.cache.set(token, principal);
    return principal;
  }

  /** Forget cached verifications (after a revocation, so the next check re-reads the denylist). */
  forget(token?: string): void {
    if (token) this.cache.delete(token);
    else this.cache.clear();
  }
}

/**
 * Bearer authentication for every bearer route. Stays in memory on the hot path: a verified
 * token is cached, and revocation is checked against an in-memory set that the identity
 * feature keeps in sync across replicas (LISTEN/NOTIFY).
 */
import { GatewayError } from '../errors';
import type { Principal, SessionTokens } from './session-token';

export interface RevocationCheck {
  /** True when the session (by sid) or the exact token (by hash) has been revoked. */
  isRevoked(principal: Principal): boolean;
  /** The same check for a session that is not a bearer (the console cookie): its id, subject and sign-in time. */
  isSessionRevoked?(sid: string, sub: string, authTimeSeconds: number): boolean;
  /** End one session on every replica (the console's sign-out). */
  revokeSession?(sid: string, sub?: string): Promise<void>;
}

export const noRevocations: RevocationCheck = { isRevoked: () => false };

export class BearerAuthenticator {
  constructor(
    private readonly tokens: SessionTokens,
    private readonly revocations: RevocationCheck = noRevocations,
  ) {}

  authenticate(authorization: string | undefined): Principal {
    if (!authorization) throw new GatewayError('AUTH_MISSING');
    // Scheme is case-insensitive (RFC 9110 §11.1).
    if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') {
      throw new GatewayError('AUTH_MISSING');
    }
    const token = authorization.slice(7).trim();
    const principal = this.tokens.verify(token);
    if (this.revocations.isRevoked(principal)) throw new GatewayError('AUTH_REVOKED');
    return principal;
  }
}

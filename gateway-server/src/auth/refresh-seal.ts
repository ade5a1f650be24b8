/**
 * The refresh token handed to clients: a JWE (dir / A256GCM) sealing the IdP refresh token and
 * the session id, so refresh needs no database read and the IdP token never leaves the gateway
 * readable. The key is SHA-256 of a label and the session secret; every configured secret
 * opens, the first seals (same rotation story as the session JWTs).
 */
import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';

export interface SealedRefresh {
  /** The IdP's refresh token. */
  rt: string;
  sid: string;
  sub: string;
  /** When the person signed in at the IdP (seconds); offboarding revokes sign-ins before a cut-off. */
  auth_time: number;
  /** Seal expiry (seconds). */
  exp: number;
  surface?: string;
}

export const REFRESH_SEAL_MAX_SECONDS = 30 * 24 * 3600;

const deriveKey = (secret: string) => createHash('sha256').update('tollgate-refresh-v1\0').update(secret).digest();

export class RefreshSealer {
  private readonly keys: Uint8Array[];
  constructor(
    secrets: readonly string[],
    private readonly now: () => number,
  ) {
    this.keys = secrets.map(deriveKey);
  }

  async seal(payload: Omit<SealedRefresh, 'exp'>): Promise<string> {
    const body: SealedRefresh = { ...payload, exp: Math.floor(this.now() / 1000) + REFRESH_SEAL_MAX_SECONDS };
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'tollgate-rt' })
      .encrypt(this.keys[0]!);
  }

  /** The sealed payload, or undefined for anything we did not seal, tampered or expired. */
  async open(token: string): Promise<SealedRefresh | undefined> {
    if (token.length > 16_384 || token.split('.').length !== 5) return undefined;
    for (const key of this.keys) {
      try {
        const { plaintext, protectedHeader } = await compactDecrypt(token, key);
        if (protectedHeader.typ !== 'tollgate-rt') return undefined;
        const p = JSON.parse(new TextDecoder().decode(plaintext)) as SealedRefresh;
        if (typeof p.rt !== 'string' || typeof p.sid !== 'string' || typeof p.sub !== 'string') return undefined;
        if (typeof p.exp !== 'number' || p.exp <= this.now() / 1000) return undefined;
        return p;
      } catch {
        // wrong key (rotation) or not ours: try the next
      }
    }
    return undefined;
  }
}

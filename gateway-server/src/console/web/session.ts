/**
 * The console's browser session: a short-lived cookie holding the signed-in person (HMAC-SHA256
 * with a key derived from session.jwt_secret, so a replica can check it without a store; its
 * session id is checked against the identity feature's in-memory revocations on every request), and
 * the sign-in flow's state/nonce/PKCE verifier in a second cookie that lives five minutes.
 * `__Host-` names over HTTPS (Secure, Path=/, no Domain); plain names on loopback http, where
 * browsers refuse Secure cookies.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export const SESSION_SECONDS = 3600;
export const FLOW_SECONDS = 300;

export type ConsoleRole = 'admin' | 'viewer' | 'none';

export interface ConsoleSession {
  /** Session id: revoked like a bearer's (admin revocation of the user, or sign-out) on every replica. */
  sid: string;
  /** Sign-in time (seconds): revoking a user ends every session signed in before the cut. */
  iat: number;
  sub: string;
  email?: string;
  name?: string;
  groups: string[];
  /** Session-bound CSRF token, echoed by every form. */
  csrf: string;
  exp: number;
}

export interface SignInFlow {
  state: string;
  nonce: string;
  verifier: string;
  exp: number;
}

export const randomId = () => randomBytes(24).toString('base64url');

export class CookieSigner {
  private readonly key: Buffer;
  readonly session: string;
  readonly flow: string;
  private readonly attrs: string;

  constructor(
    secret: string,
    private readonly tls: boolean,
  ) {
    this.key = createHmac('sha256', secret).update('tollgate console cookie v1').digest();
    this.session = tls ? '__Host-tg_console' : 'tg_console';
    this.flow = tls ? '__Host-tg_console_flow' : 'tg_console_flow';
    this.attrs = `Path=/; HttpOnly; SameSite=Lax${tls ? '; Secure' : ''}`;
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest();
  }

  seal(value: object): string {
    const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  open<T extends { exp: number }>(sealed: string | undefined, nowMs: number): T | undefined {
    if (!sealed) return undefined;
    const [payload, sig] = sealed.split('.');
    if (!payload || !sig) return undefined;
    const given = Buffer.from(sig, 'base64url');
    const want = this.mac(payload);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    try {
      const v = JSON.parse(Buffer.from(payload, 'base64url').toString()) as T;
      return typeof v.exp === 'number' && v.exp * 1000 > nowMs ? v : undefined;
    } catch {
      return undefined;
    }
  }

  setCookie(name: string, value: string, maxAge: number): string {
    return `${name}=${value}; Max-Age=${maxAge}; ${this.attrs}`;
  }

  clearCookie(name: string): string {
    return `${name}=; Max-Age=0; ${this.attrs}`;
  }
}

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function roleOf(groups: readonly string[], admin: { admin_groups?: string[]; viewer_groups?: string[] } | undefined): ConsoleRole {
  if (groups.some((g) => admin?.admin_groups?.includes(g))) return 'admin';
  if (groups.some((g) => admin?.viewer_groups?.includes(g))) return 'viewer';
  return 'none';
}

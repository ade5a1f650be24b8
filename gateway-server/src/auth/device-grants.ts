/**
 * Device grants (RFC 8628) in the shared `kv` table, so any replica can answer any step: the
 * device code is stored only as its SHA-256, the user code maps to it, and each row expires
 * with the grant. Also the per-IP fixed-window counters and the short-lived browser-leg state.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Db } from '../store/db';

export const DEVICE_CODE_TTL_SECONDS = 600;
export const POLL_INTERVAL_SECONDS = 5;
export const AUTH_STATE_TTL_SECONDS = 300;
/** RFC 8628 §6.1: no vowels, no look-alikes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface ApprovedIdentity {
  sub: string;
  email?: string;
  name?: string;
  groups: string[];
  sid: string;
  /** The client's refresh token, already sealed (JWE), when the IdP issued one. */
  sealedRefresh?: string;
  authTime: number;
}

export interface DeviceGrant {
  status: 'pending' | 'approved' | 'denied';
  userCode: string;
  surface?: string;
  createdAt: number;
  lastPollAt?: number;
  identity?: ApprovedIdentity;
  reason?: string;
}

export interface AuthState {
  deviceKey: string;
  userCode: string;
  nonce: string;
  codeVerifier: string;
  browserHash: string;
}

export function newUserCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** Accept what people type: any case, spaces or dashes anywhere; undefined unless 8 alphabet letters. */
export function normalizeUserCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const letters = input.toUpperCase().replace(/[\s-]/g, '');
  if (letters.length !== 8 || ![...letters].every((c) => USER_CODE_ALPHABET.includes(c))) return undefined;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

export class DeviceGrantStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  private at(offsetSeconds = 0): Date {
    return new Date(this.now() + offsetSeconds * 1000);
  }

  /** Create a grant; returns the raw device code (never stored) and the user code. */
  async create(surface: string | undefined): Promise<{ deviceCode: string; userCode: string }> {
    const deviceCode = randomToken(32);
    const deviceKey = `dev:${sha256(deviceCode)}`;
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode();
      const grant: DeviceGrant = { status: 'pending', userCode, surface, createdAt: this.now() };
      const ok = await this.db.transaction(async (tx) => {
        // A live user code must be unique; an expired row with the same code is replaced.
        const r = await tx.query(
          `INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at WHERE kv.expires_at <= $4`,
          [`uc:${userCode}`, JSON.stringify({ deviceKey }), this.at(DEVICE_CODE_TTL_SECONDS), this.at()],
        );
        if (r.rowCount === 0) return false;
        await tx.query('INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)', [deviceKey, JSON.stringify(grant), this.at(DEVICE_CODE_TTL_SECONDS)]);
        return true;
      });
      if (ok) return { deviceCode, userCode };
      if (attempt > 5) throw new Error('could not allocate a unique user code');
    }
  }

  async byUserCode(userCode: string): Promise<{ deviceKey: string; grant: DeviceGrant } | undefined> {
    const r = await this.db.query<{ value: { deviceKey: string } }>('SELECT value FROM kv WHERE key = $1 AND expires_at > $2', [`uc:${userCode}`, this.at()]);
    const deviceKey = r.rows[0]?.value.deviceKey;
    if (!deviceKey) return undefined;
    const g = await this.db.query<{ value: DeviceGrant }>('SELECT value FROM kv WHERE key = $1 AND expires_at > $2', [deviceKey, this.at()]);
    return g.rows[0] ? { deviceKey, grant: g.rows[0].value } : undefined;
  }

  /** Settle a pending grant (approve or deny). False when it is gone or already settled. */
  async settle(deviceKey: string, update: Pick<DeviceGrant, 'status' | 'identity' | 'reason'>): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE kv SET value = value || $2::jsonb WHERE key = $1 AND expires_at > $3 AND value->>'status' = 'pending'`,
      [deviceKey, JSON.stringify(update), this.at()],
    );
    if (r.rowCount > 0) {
      const userCode = await this.db.query<{ value: DeviceGrant }>('SELECT value FROM kv WHERE key = $1', [deviceKey]);
      // The user code is single use too: once settled, it can't start another browser leg.
      const uc = userCode.rows[0]?.value.userCode;
      if (uc) await this.db.query('DELETE FROM kv WHERE key = $1', [`uc:${uc}`]);
    }
    return r.rowCount > 0;
  }

  /**
   * One poll. Settled grants are deleted as they are read (single use); pending ones record the
   * poll time. `tooFast` is true when the previous poll came less than the interval ago.
   */
  async poll(deviceCode: string, minGapMs: number): Promise<{ grant?: DeviceGrant; tooFast: boolean }> {
    const key = `dev:${sha256(deviceCode)}`;
    return this.db.transaction(async (tx) => {
      const r = await tx.query<{ value: DeviceGrant }>('SELECT value FROM kv WHERE key = $1 AND expires_at > $2 FOR UPDATE', [key, this.at()]);
      const grant = r.rows[0]?.value;
      if (!grant) return { tooFast: false };
      if (grant.status !== 'pending') {
        await tx.query('DELETE FROM kv WHERE key = $1', [key]);
        return { grant, tooFast: false };
      }
      const now = this.now();
      const tooFast = grant.lastPollAt !== undefined && now - grant.lastPollAt < minGapMs;
      await tx.query(`UPDATE kv SET value = jsonb_set(value, '{lastPollAt}', to_jsonb($2::bigint)) WHERE key = $1`, [key, now]);
      return { grant, tooFast };
    });
  }

  async saveAuthState(state: string, value: AuthState): Promise<void> {
    await this.db.query('INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)', [`as:${sha256(state)}`, JSON.stringify(value), this.at(AUTH_STATE_TTL_SECONDS)]);
  }

  /** Single use: the row is deleted as it is read. */
  async takeAuthState(state: string): Promise<AuthState | undefined> {
    const r = await this.db.query<{ value: AuthState }>('DELETE FROM kv WHERE key = $1 AND expires_at > $2 RETURNING value', [`as:${sha256(state)}`, this.at()]);
    return r.rows[0]?.value;
  }

  /**
   * Fixed-window counter per key; every attempt counts, rejected ones included (as the
   * official gateway). Returns whether this attempt is within `max` and when the window resets.
   */
  async hit(key: string, max: number, windowSeconds: number): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const r = await this.db.query<{ n: number; expires_at: Date }>(
      `INSERT INTO kv (key, value, expires_at) VALUES ($1, '{"n":1}'::jsonb, $2)
       ON CONFLICT (key) DO UPDATE SET
         value = CASE WHEN kv.expires_at <= $3 THEN '{"n":1}'::jsonb ELSE jsonb_build_object('n', (kv.value->>'n')::int + 1) END,
         expires_at = CASE WHEN kv.expires_at <= $3 THEN EXCLUDED.expires_at ELSE kv.expires_at END
       RETURNING (value->>'n')::int AS n, expires_at`,
      [key, this.at(windowSeconds), this.at()],
    );
    const row = r.rows[0]!;
    return { allowed: Number(row.n) <= max, retryAfterSeconds: Math.max(1, Math.ceil((row.expires_at.getTime() - this.now()) / 1000)) };
  }

  async sweep(): Promise<number> {
    const r = await this.db.query('DELETE FROM kv WHERE expires_at <= $1', [this.at()]);
    return r.rowCount;
  }
}

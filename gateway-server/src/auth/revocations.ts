/**
 * Session revocation: rows in PostgreSQL (durable, shared by replicas), mirrored in memory so
 * the bearer check on the hot path is two Map lookups. Every replica applies a revocation
 * from NOTIFY within milliseconds (PGlite delivers in-process); a periodic reload covers
 * notifications lost while a LISTEN connection was reconnecting.
 */
import type { RevocationCheck } from './bearer';
import type { Principal } from './session-token';
import type { Db } from '../store/db';

export const REVOCATION_CHANNEL = 'tollgate_revocations';

type Change = { kind: 'sid'; sid: string; exp: number } | { kind: 'user'; sub: string; before: number; exp: number };

export class Revocations implements RevocationCheck {
  /** sid → expiry (ms). */
  private readonly sids = new Map<string, number>();
  /** sub → cut-off (seconds): tokens issued before it are revoked. */
  private readonly users = new Map<string, { before: number; exp: number }>();
  private unlisten?: () => Promise<void>;

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    /** Session TTL (s), to recover a token's iat from its exp. */
    private readonly ttlSeconds: number,
    /** How long a revocation must outlive its token family (sealed refresh lifetime + TTL). */
    private readonly retainSeconds: number,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(REVOCATION_CHANNEL, (payload) => {
      try {
        this.apply(JSON.parse(payload) as Change);
      } catch {
        // a malformed payload cannot come from us; ignore it
      }
    });
    await this.reload();
  }

  async stop(): Promise<void> {
    await this.unlisten?.().catch(() => {});
  }

  async reload(): Promise<void> {
    const at = new Date(this.now());
    const s = await this.db.query<{ sid: string; expires_at: Date }>('SELECT sid, expires_at FROM revoked_sessions WHERE expires_at > $1', [at]);
    const u = await this.db.query<{ sub: string; revoked_before: Date; expires_at: Date }>(
      'SELECT sub, revoked_before, expires_at FROM revoked_users WHERE expires_at > $1',
      [at],
    );
    for (const r of s.rows) this.apply({ kind: 'sid', sid: r.sid, exp: r.expires_at.getTime() });
    for (const r of u.rows) this.apply({ kind: 'user', sub: r.sub, before: Math.floor(r.revoked_before.getTime() / 1000), exp: r.expires_at.getTime() });
  }

  isRevoked(p: Principal): boolean {
    if (p.sid && this.sids.has(p.sid)) return true;
    const cut = this.users.get(p.sub);
    return cut !== undefined && p.exp - this.ttlSeconds < cut.before;
  }

  /** For the refresh grant: is this session, or this sign-in of the user, revoked? */
  isSessionRevoked(sid: string, sub: string, authTimeSeconds: number): boolean {
    if (this.sids.has(sid)) return true;
    const cut = this.users.get(sub);
    return cut !== undefined && authTimeSeconds < cut.before;
  }

  async revokeSession(sid: string, sub?: string): Promise<void> {
    const exp = this.now() + this.retainSeconds * 1000;
    await this.db.query(
      `INSERT INTO revoked_sessions (sid, sub, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (sid) DO UPDATE SET expires_at = GREATEST(revoked_sessions.expires_at, EXCLUDED.expires_at)`,
      [sid, sub ?? null, new Date(this.now()), new Date(exp)],
    );
    await this.publish({ kind: 'sid', sid, exp });
  }

  /** Revoke every session of `sub` issued up to now. Returns the cut-off. */
  async revokeUser(sub: string): Promise<Date> {
    // +1 s: tokens carry whole-second iat, so one minted earlier in this second must fall before the cut.
    const before = Math.floor(this.now() / 1000) + 1;
    const exp = this.now() + this.retainSeconds * 1000;
    await this.db.query(
      `INSERT INTO revoked_users (sub, revoked_before, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (sub) DO UPDATE SET revoked_before = GREATEST(revoked_users.revoked_before, EXCLUDED.revoked_before),
         expires_at = GREATEST(revoked_users.expires_at, EXCLUDED.expires_at)`,
      [sub, new Date(before * 1000), new Date(exp)],
    );
    await this.publish({ kind: 'user', sub, before, exp });
    return new Date(before * 1000);
  }

  /** Drop expired entries (memory and store). */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const [sid, exp] of this.sids) if (exp <= now) this.sids.delete(sid);
    for (const [sub, c] of this.users) if (c.exp <= now) this.users.delete(sub);
    await this.db.query('DELETE FROM revoked_sessions WHERE expires_at <= $1', [new Date(now)]);
    await this.db.query('DELETE FROM revoked_users WHERE expires_at <= $1', [new Date(now)]);
  }

  private async publish(change: Change): Promise<void> {
    this.apply(change);
    await this.db.notify(REVOCATION_CHANNEL, JSON.stringify(change));
  }

  private apply(c: Change): void {
    if (c.kind === 'sid' && typeof c.sid === 'string') this.sids.set(c.sid, Math.max(c.exp, this.sids.get(c.sid) ?? 0));
    else if (c.kind === 'user' && typeof c.sub === 'string') {
      const prev = this.users.get(c.sub);
      this.users.set(c.sub, { before: Math.max(c.before, prev?.before ?? 0), exp: Math.max(c.exp, prev?.exp ?? 0) });
    }
  }
}

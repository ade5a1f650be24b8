/**
 * The Users page's sessions and last-seen, read from the audit log (which records every sign-in,
 * refresh and console sign-in with its session id and client surface) through two indexes: the
 * partial `audit_log_sessions` (sign-in and refresh rows only) and `audit_log_sub_at_id`.
 * Whether a session still works is the identity feature's answer (its in-memory revocations).
 */
import type { Queryable } from '../../store/db';
import { REFRESH_SEAL_MAX_SECONDS } from '../../auth/refresh-seal';
import type { RevocationCheck } from '../../auth/bearer';
import { SESSION_SECONDS } from './session';

export interface UserSession {
  sid: string;
  /** The sign-in, when it lies inside the window read (refresh-token lifetime), else null. */
  created: Date | null;
  /** The last sign-in or token refresh of this session. */
  lastUsed: Date;
  /** When it ends at the latest without another refresh. */
  expires: Date;
  /** Client surface as the client declared it (e.g. claude_code, vscode), or `console`. */
  client: string | null;
  revoked: boolean;
}

const SESSION_EVENTS = `session_id IS NOT NULL AND event IN ('session.mint', 'session.refresh', 'console.sign_in')`;

/** Sessions not yet expired of each user, newest use first, at most `perUser` each. */
export async function sessionsOf(db: Queryable, revocations: RevocationCheck | undefined, subs: string[], nowMs: number, perUser = 10): Promise<Map<string, UserSession[]>> {
  const out = new Map<string, UserSession[]>(subs.map((s) => [s, []]));
  if (!subs.length) return out;
  const since = new Date(nowMs - REFRESH_SEAL_MAX_SECONDS * 1000);
  const { rows } = await db.query<{ sub: string; sid: string; created: Date | null; last_used: Date; client: string | null; console: boolean }>(
    `SELECT sub, session_id AS sid, min(at) FILTER (WHERE event <> 'session.refresh') AS created, max(at) AS last_used,
            max(surface) AS client, bool_or(event = 'console.sign_in') AS console
     FROM audit_log WHERE sub = ANY($1::text[]) AND at >= $2 AND outcome = 'ok' AND ${SESSION_EVENTS}
     GROUP BY sub, session_id ORDER BY max(at) DESC`,
    [subs, since.toISOString()],
  );
  for (const r of rows) {
    const created = r.created ? new Date(r.created) : null;
    const lastUsed = new Date(r.last_used);
    // A console session ends SESSION_SECONDS after sign-in; a client's when its refresh token does.
    const expires = new Date((r.console ? (created ?? lastUsed).getTime() + SESSION_SECONDS * 1000 : lastUsed.getTime() + REFRESH_SEAL_MAX_SECONDS * 1000));
    if (expires.getTime() <= nowMs) continue;
    const list = out.get(r.sub)!;
    if (list.length >= perUser) continue;
    const authTime = Math.floor((created ?? since).getTime() / 1000);
    list.push({ sid: r.sid, created, lastUsed, expires, client: r.console ? 'console' : r.client, revoked: revocations?.isSessionRevoked?.(r.sid, r.sub, authTime) ?? false });
  }
  return out;
}

/** Each user's latest audit row of any kind (request, sign-in, refresh): an index-only probe per user. */
export async function lastSeenOf(db: Queryable, subs: string[]): Promise<Map<string, Date>> {
  if (!subs.length) return new Map();
  const { rows } = await db.query<{ sub: string; at: Date | null }>(
    `SELECT p.sub, (SELECT max(a.at) FROM audit_log a WHERE a.sub = p.sub) AS at FROM unnest($1::text[]) AS p(sub)`,
    [subs],
  );
  return new Map(rows.filter((r) => r.at).map((r) => [r.sub, new Date(r.at!)]));
}

/**
 * The one SQL surface every feature uses. Two implementations: a pg.Pool to real PostgreSQL
 * (production) and embedded PGlite (the zero-setup default). Queries are plain PostgreSQL and
 * must run on both (14+ and PGlite's 18): no extensions, no server-version-specific syntax.
 *
 * Type parsing is aligned across both: int8/numeric come back as strings (exact money),
 * timestamptz as Date, json/jsonb parsed.
 */

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export type Notification = { channel: string; payload: string };

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Run `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribe to NOTIFY on a channel. With PostgreSQL this holds one dedicated connection
   * and reconnects; PGlite delivers in-process. Returns an unsubscribe function.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /** Cheap liveness probe for /readyz. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
  /** Reachability as last seen (PostgreSQL only; the embedded store cannot be unreachable). */
  readonly health?: import('./health').StoreHealth;
  /** Where reads that tolerate seconds of lag go (`store.read_url`); absent: this database. Use `lagTolerant()`. */
  readonly reads?: Queryable;
}

/** The database for a read that may be seconds behind (admin listings, audit queries and exports). */
export function lagTolerant(db: Db): Queryable {
  return db.reads ?? db;
}

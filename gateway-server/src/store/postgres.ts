import pg from 'pg';
import type { Db, Queryable, QueryResult } from './db';

export interface PostgresOptions {
  url: string;
  /** Where the LISTEN connection goes (default `url`): a direct one when `url` is a transaction pooler. */
  listenUrl?: string;
  username?: string;
  password?: string;
  maxConnections: number;
  connectTimeoutSeconds: number;
  applicationName?: string;
}

// Parse timestamptz as Date (pg's default) and keep int8/numeric as strings (pg's default):
// money is exact integers and must never pass through a float.
export async function openPostgres(opts: PostgresOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    user: opts.username,
    password: opts.password,
    max: opts.maxConnections,
    connectionTimeoutMillis: opts.connectTimeoutSeconds * 1000,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'tollgate-gateway',
    keepAlive: true,
  });
  // An idle client erroring (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});

  const listeners = new Map<string, Set<(p: string) => void>>();
  let listenClient: pg.Client | undefined;
  let listenConnecting: Promise<void> | undefined;
  let closed = false;

  async function ensureListenClient(): Promise<void> {
    if (listenClient) return;
    if (listenConnecting) return listenConnecting;
    listenConnecting = (async () => {
      const client = new pg.Client({
        connectionString: opts.listenUrl ?? opts.url,
        user: opts.username,
        password: opts.password,
        connectionTimeoutMillis: opts.connectTimeoutSeconds * 1000,
        application_name: `${opts.applicationName ?? 'tollgate-gateway'}-listen`,
        keepAlive: true,
      });
      client.on('notification', (msg) => {
        const set = listeners.get(msg.channel);
        if (set) for (const fn of set) fn(msg.payload ?? '');
      });
      const reconnect = () => {
        if (listenClient === client) listenClient = undefined;
        if (closed) return;
        setTimeout(() => {
          ensureListenClient().catch(() => {});
        }, 500).unref();
      };
      client.on('error', reconnect);
      client.on('end', reconnect);
      await client.connect();
      for (const channel of listeners.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
      listenClient = client;
    })().finally(() => {
      listenConnecting = undefined;
    });
    return listenConnecting;
  }

  const db: Db = {
    kind: 'postgres',
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await pool.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R>(sql: string, params?: readonly unknown[]) {
            const res = await client.query(sql, params as unknown[] | undefined);
            return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
          },
        };
        const out = await fn(tx);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, onPayload) {
      let set = listeners.get(channel);
      const isNew = !set;
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(onPayload);
      await ensureListenClient();
      if (isNew && listenClient) await listenClient.query(`LISTEN ${quoteIdent(channel)}`);
      return async () => {
        set!.delete(onPayload);
      };
    },
    async notify(channel, payload) {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async ping(timeoutMs = 2000) {
      try {
        await withTimeout(pool.query('SELECT 1'), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      closed = true;
      await listenClient?.end().catch(() => {});
      await pool.end();
    },
  };
  return db;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

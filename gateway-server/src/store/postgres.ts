import pg from 'pg';
import type { Db, Queryable, QueryResult } from './db';
import { StoreHealth } from './health';

export interface PostgresOptions {
  url: string;
  /** Where the LISTEN connection goes (default `url`): a direct one when `url` is a transaction pooler. */
  listenUrl?: string;
  username?: string;
  password?: string;
  maxConnections: number;
  connectTimeoutSeconds: number;
  applicationName?: string;
  /** Told about every connection-level failure and recovery (default: a new one). */
  health?: StoreHealth;
  /** Where connection errors of idle clients are reported (never thrown: they would end the process). */
  log?: (msg: string) => void;
}

/** While the store is down, probe it this often to notice it is back (queries also notice). */
const PROBE_EVERY_MS = 500;

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
  const health = opts.health ?? new StoreHealth();
  const log = opts.log ?? (() => {});
  // An idle client erroring (server restart) must not crash the process; the pool replaces it.
  pool.on('error', (err) => {
    health.observe(err);
    log(`PostgreSQL connection lost (${err.message}); the pool reconnects on the next query`);
  });
  let probe: NodeJS.Timeout | undefined;
  const unsubscribeProbe = health.onChange((reachable) => {
    if (reachable || closed || probe) return;
    log('PostgreSQL unreachable: probing until it answers');
    probe = setInterval(() => {
      pool.query('SELECT 1').then(
        () => health.up(),
        () => {},
      );
    }, PROBE_EVERY_MS);
    probe.unref();
  });
  health.onChange((reachable) => {
    if (!reachable || !probe) return;
    clearInterval(probe);
    probe = undefined;
    log('PostgreSQL reachable again');
  });
  /** Every query's outcome feeds the health record: no extra round trips while healthy. */
  const track = <T>(p: Promise<T>): Promise<T> =>
    p.then(
      (v) => {
        if (!health.reachable) health.up();
        return v;
      },
      (err) => {
        health.observe(err);
        throw err;
      },
    );

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
      let reconnecting = false;
      const reconnect = (err?: Error) => {
        if (err) health.observe(err);
        if (listenClient === client) listenClient = undefined;
        if (closed || reconnecting) return;
        reconnecting = true;
        scheduleListenReconnect(1);
      };
      client.on('error', reconnect);
      client.on('end', () => reconnect());
      try {
        await client.connect();
      } catch (err) {
        client.end().catch(() => {});
        throw err;
      }
      for (const channel of listeners.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
      listenClient = client;
    })().finally(() => {
      listenConnecting = undefined;
    });
    return listenConnecting;
  }

  /** LISTEN again after the connection dropped, backing off to 10 s while the server is away. */
  function scheduleListenReconnect(attempt: number): void {
    if (closed) return;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
    setTimeout(() => {
      if (closed) return;
      ensureListenClient().catch((err) => {
        health.observe(err);
        scheduleListenReconnect(attempt + 1);
      });
    }, delay).unref();
  }

  const db: Db = {
    kind: 'postgres',
    health,
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await track(pool.query(sql, params as unknown[] | undefined));
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await track(pool.connect());
      // A checked-out client has no pool listener: a server restart between our statements
      // would otherwise be an uncaught 'error' event.
      let broken: Error | undefined;
      const onError = (err: Error) => {
        broken = err;
        health.observe(err);
      };
      client.on('error', onError);
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
        health.observe(err);
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.off('error', onError);
        // A broken connection is destroyed, not returned to the pool.
        client.release(broken);
      }
    },
    async listen(channel, onPayload) {
      let set = listeners.get(channel);
      const isNew = !set;
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(onPayload);
      try {
        await ensureListenClient();
        if (isNew && listenClient) await listenClient.query(`LISTEN ${quoteIdent(channel)}`);
      } catch (err) {
        // The channel is remembered: the reconnect LISTENs every channel once the server answers.
        health.observe(err);
        log(`could not LISTEN on ${channel} (${(err as Error).message}); retrying in the background`);
        listenClient?.end().catch(() => {});
        listenClient = undefined;
        scheduleListenReconnect(1);
      }
      return async () => {
        set!.delete(onPayload);
      };
    },
    async notify(channel, payload) {
      await track(pool.query('SELECT pg_notify($1, $2)', [channel, payload]));
    },
    async ping(timeoutMs = 2000) {
      try {
        await withTimeout(track(pool.query('SELECT 1')), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      closed = true;
      unsubscribeProbe();
      if (probe) clearInterval(probe);
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

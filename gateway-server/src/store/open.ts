import type { Config } from '../config/load';
import type { Db, Queryable } from './db';
import { openPostgres } from './postgres';
import { migrate } from './migrate';

export type StoreLog = (msg: string) => void;

export interface OpenOptions {
  /**
   * Keep trying to reach and migrate PostgreSQL, backing off to 10 s, until it works or
   * `stopped()` says to give up (the server: it answers on its socket meanwhile, issue 15).
   * Without it: 3 attempts 2 s apart (as the official gateway), then fail.
   */
  retryForever?: { stopped(): boolean };
}

/** Open the configured store and migrate it. */
export async function openStore(config: Config, log: StoreLog = () => {}, opts: OpenOptions = {}): Promise<Db> {
  const s = config.store;
  let db: Db;
  if (s.postgres_url) {
    db = await openPostgres({
      url: s.postgres_url,
      listenUrl: s.listen_url,
      username: s.username,
      password: s.password,
      maxConnections: s.max_connections,
      connectTimeoutSeconds: s.connect_timeout_seconds,
      log,
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await db.query('SELECT 1');
        await migrate(db, log);
        break;
      } catch (err) {
        const forever = opts.retryForever && !opts.retryForever.stopped();
        const delay = forever ? Math.min(10_000, 500 * 2 ** Math.min(attempt - 1, 5)) : 2000;
        log(
          forever
            ? `could not reach or migrate PostgreSQL at boot (attempt ${attempt}, next in ${delay / 1000} s; serving /healthz, /readyz answers 503 meanwhile): ${(err as Error).message}`
            : `could not connect to Postgres at boot, attempt ${attempt} of 3: ${(err as Error).message}`,
        );
        if (!forever && attempt >= 3) {
          await db.close().catch(() => {});
          throw new Error(`cannot reach PostgreSQL (store.postgres_url): ${(err as Error).message}. Check the URL and that the server is running.`);
        }
        await new Promise((r) => setTimeout(r, delay));
        if (opts.retryForever?.stopped()) {
          await db.close().catch(() => {});
          throw new Error('stopped while waiting for PostgreSQL');
        }
      }
    }
    if (s.read_url) return withReadReplica(db, s, log);
    return db;
  } else {
    log(`using embedded PostgreSQL (PGlite) in ${s.data_dir}; set store.postgres_url for production`);
    // Loaded only for the embedded store: gateways on PostgreSQL never load PGlite (~4.5 MB resident).
    const { openPglite } = await import('./pglite');
    db = await openPglite(s.data_dir);
  }
  await migrate(db, log);
  if (s.postgres_url && s.read_url) return withReadReplica(db, s, log);
  return db;
}

/**
 * Attach the replica of `store.read_url` as `db.reads`. Boot fails if it cannot be reached (as
 * for the primary); later, a read it fails goes to the primary instead, so a replica outage costs
 * admin reads a retry, never an answer.
 */
async function withReadReplica(db: Db, s: Config['store'], log: StoreLog): Promise<Db> {
  const replica = await openPostgres({
    url: s.read_url!,
    username: s.username,
    password: s.password,
    maxConnections: Math.max(2, Math.ceil(s.max_connections / 2)),
    connectTimeoutSeconds: s.connect_timeout_seconds,
    applicationName: 'tollgate-gateway-reads',
  });
  try {
    await replica.query('SELECT 1');
  } catch (err) {
    await replica.close().catch(() => {});
    await db.close().catch(() => {});
    throw new Error(`cannot reach the read replica (store.read_url): ${(err as Error).message}. Check the URL, or remove store.read_url to read from the primary.`);
  }
  let lastWarning = 0;
  const reads: Queryable = {
    async query(sql, params) {
      try {
        return await replica.query(sql, params);
      } catch (err) {
        if (Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          log(`read replica failed (${(err as Error).message}); reading from the primary meanwhile`);
        }
        return db.query(sql, params);
      }
    },
  };
  const closePrimary = db.close.bind(db);
  return Object.assign(db, {
    reads,
    async close() {
      await replica.close().catch(() => {});
      await closePrimary();
    },
  });
}

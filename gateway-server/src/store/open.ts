import type { Config } from '../config/load';
import type { Db } from './db';
import { openPostgres } from './postgres';
import { migrate } from './migrate';

export type StoreLog = (msg: string) => void;

/**
 * Open the configured store and migrate it. A real server gets 3 connection attempts 2 s apart
 * (as the official gateway); boot fails closed after that.
 */
export async function openStore(config: Config, log: StoreLog = () => {}): Promise<Db> {
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
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await db.query('SELECT 1');
        break;
      } catch (err) {
        log(`could not connect to Postgres at boot, attempt ${attempt} of 3: ${(err as Error).message}`);
        if (attempt >= 3) {
          await db.close().catch(() => {});
          throw new Error(`cannot reach PostgreSQL (store.postgres_url): ${(err as Error).message}. Check the URL and that the server is running.`);
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  } else {
    log(`using embedded PostgreSQL (PGlite) in ${s.data_dir}; set store.postgres_url for production`);
    // Loaded only for the embedded store: gateways on PostgreSQL never load PGlite (~4.5 MB resident).
    const { openPglite } = await import('./pglite');
    db = await openPglite(s.data_dir);
  }
  await migrate(db, log);
  return db;
}

/**
 * Test databases. Real PostgreSQL (127.0.0.1:5432, user postgres, trust auth) gets a fresh
 * database per suite, dropped afterwards; PGlite runs in memory. `TEST_PG_URL` overrides the
 * server (the admin URL; a database is created on it).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db } from '../../gateway-server/src/store/db';
import { openPostgres } from '../../gateway-server/src/store/postgres';
import { openPglite } from '../../gateway-server/src/store/pglite';
import { migrate } from '../../gateway-server/src/store/migrate';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export type StoreKind = 'postgres' | 'pglite';

export interface TestDatabase {
  kind: StoreKind;
  /** Connection URL (postgres only): pass to gateway processes as store.postgres_url. */
  url?: string;
  db: Db;
  drop(): Promise<void>;
}

export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tollgate_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect().catch((err: Error) => {
    throw new Error(
      `The tests need PostgreSQL at ${PG_ADMIN_URL} (user postgres, trust auth), which refused: ${err.message}. Run \`bash scripts/ci-deps.sh\` (the first step of \`npm test\`), which installs and starts it, or point TEST_PG_URL at a server.`,
    );
  });
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = PG_ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  return {
    url,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A migrated database of the given kind. */
export async function createTestDatabase(kind: StoreKind): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const db = await openPglite();
    await migrate(db);
    return { kind, db, drop: () => db.close() };
  }
  const created = await createPostgresDatabase();
  const db = await openPostgres({ url: created.url, maxConnections: 20, connectTimeoutSeconds: 5 });
  await migrate(db);
  return {
    kind,
    url: created.url,
    db,
    async drop() {
      await db.close();
      await created.drop();
    },
  };
}

/** Kinds to run a suite against: both by default; TEST_STORES=postgres limits it. */
export function storeKinds(): StoreKind[] {
  const env = process.env.TEST_STORES;
  if (!env) return ['postgres', 'pglite'];
  return env.split(',').map((s) => s.trim()) as StoreKind[];
}

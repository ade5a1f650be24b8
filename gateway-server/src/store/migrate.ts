/**
 * Append-only migrations, run at boot, serialised across replicas by a PostgreSQL advisory
 * lock (the official gateway's key, 6775156, so the two never migrate one database at once).
 * Never edit a shipped migration: add a new one. Rolling back to an older binary stays safe
 * because older code ignores newer tables and columns.
 */
import type { Db } from './db';
import { MIGRATIONS } from './migrations';

export const MIGRATION_LOCK_KEY = 6775156;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function migrate(db: Db, log: (msg: string) => void = () => {}): Promise<number[]> {
  const sorted = [...MIGRATIONS].sort((a, b) => a.version - b.version);
  const seen = new Set<number>();
  for (const m of sorted) {
    if (seen.has(m.version)) throw new Error(`duplicate migration version ${m.version}`);
    seen.add(m.version);
  }
  return db.transaction(async (tx) => {
    // Transaction-scoped: released on commit or when a crashed replica's connection drops.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS tollgate_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM tollgate_migrations');
    const applied = new Set(rows.map((r) => Number(r.version)));
    const done: number[] = [];
    for (const m of sorted) {
      if (applied.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO tollgate_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      log(`migration ${m.version} applied (${m.name})`);
      done.push(m.version);
    }
    return done;
  });
}

/** Split on semicolons at line ends; migrations avoid semicolons inside bodies except in $$ blocks. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let buf = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    const dollarCount = (line.match(/\$\$/g) ?? []).length;
    if (dollarCount % 2 === 1) inDollar = !inDollar;
    buf += line + '\n';
    if (!inDollar && /;\s*$/.test(line)) {
      const s = buf.trim();
      if (s && s !== ';') out.push(s);
      buf = '';
    }
  }
  if (buf.trim()) out.push(buf.trim());
  return out;
}

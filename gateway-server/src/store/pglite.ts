/**
 * Embedded PostgreSQL (PGlite) for the zero-setup default. Facts that shape this file:
 * PGlite is single-connection (queries serialise; a transaction holds the connection), it
 * never fsyncs, and two processes opening one data folder silently lose writes, so an
 * exclusive lock file refuses a second process with a clear message.
 */
import { DataDirLockedError } from './data-dir-lock-error';
export { DataDirLockedError };
import { mkdirSync, openSync, closeSync, writeSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './db';
import { quoteIdent, withTimeout } from './postgres';
import { pidAlive } from './pid-alive';

/** Take `<dataDir>.lock` exclusively; a lock left by a dead process is taken over. */
export function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = `${resolve(dataDir)}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8') === String(process.pid)) unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) throw new DataDirLockedError(dataDir, pid);
      unlinkSync(lockPath);
    }
  }
  throw new Error(`could not lock ${lockPath}`);
}

const parsers = {
  [types.INT8]: (v: string) => v,
  [types.NUMERIC]: (v: string) => v,
};

/** `dataDir` undefined = in-memory (tests). */
export async function openPglite(dataDir?: string): Promise<Db> {
  const release = dataDir ? acquireDataDirLock(dataDir) : () => {};
  let pglite: PGlite;
  try {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    pglite = await PGlite.create(dataDir ? resolve(dataDir) : undefined, { parsers });
  } catch (err) {
    release();
    throw err;
  }
  const wrap = (q: Pick<PGlite, 'query'>): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await q.query<R>(sql, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
  });
  const base = wrap(pglite);
  return {
    kind: 'pglite',
    query: base.query,
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    async listen(channel, onPayload) {
      const unsub = await pglite.listen(quoteIdent(channel), onPayload);
      return async () => unsub();
    },
    async notify(channel, payload) {
      await pglite.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async ping(timeoutMs = 2000) {
      try {
        await withTimeout(pglite.query('SELECT 1'), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      try {
        await pglite.close();
      } finally {
        release();
      }
    },
  };
}

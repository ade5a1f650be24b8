/**
 * The durable audit spool: where a replica's audit rows (and the spend settlements riding with
 * them) go while PostgreSQL is unreachable, so no acknowledged request loses its row (issue 15).
 *
 * One append-only file per process (`<spool_dir>/<chain>.spool`), one JSON line per group of
 * rows (a writer flush), fsync'd before the callers' promises resolve: a group commit, as in the
 * database. Bounded by `store.spool_max_bytes`; full means new requests are refused (503
 * AUDIT_SPOOL_FULL) instead of served unrecorded. Replayed in order when PostgreSQL is back,
 * one record per transaction, exactly once: each record carries an id that the replay inserts
 * into tollgate_audit_replay in the same transaction (a replayed record is skipped), and rows use
 * ON CONFLICT (chain, seq) DO NOTHING (a write that did commit before the connection dropped).
 * A spool left by a dead process (same host, PID gone, or no heartbeat for STALE_MS) is adopted
 * and replayed by the next process that starts on the same folder.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, readFile, rename, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../store/db';
import { pidAlive } from '../store/pid-alive';

export interface SpoolRecord {
  /** Unique per record: the replay's exactly-once key. */
  id: string;
  /** The chained rows as the JSON array the writer builds (empty: settlements only). */
  rows: string;
  /** Carried statements (spend settlements), run after the rows in the same transaction. */
  carried: string[];
}

/** A live spool's owner touches it this often; one untouched for STALE_MS belongs to a dead process. */
const HEARTBEAT_MS = 5_000;
export const STALE_MS = 30_000;
const SUFFIX = '.spool';
const PROCESS_STARTED_MS = Date.now() - process.uptime() * 1000;

export class SpoolFullError extends Error {
  constructor(readonly maxBytes: number) {
    super(`audit spool full (store.spool_max_bytes = ${maxBytes})`);
    this.name = 'SpoolFullError';
  }
}

export function spoolFileName(chain: string): string {
  // Chain ids are `<host>/<pid>/<random>`: keep them readable and reversible for adoption.
  return `${encodeURIComponent(chain)}${SUFFIX}`;
}

function ownerOf(file: string): { host: string; pid: number } | undefined {
  const chain = decodeURIComponent(file.slice(0, -SUFFIX.length));
  const parts = chain.split('/');
  if (parts.length < 3) return undefined;
  return { host: parts.slice(0, -2).join('/'), pid: Number(parts[parts.length - 2]) };
}

export class AuditSpool {
  readonly path: string;
  private fh?: FileHandle;
  private bytes = 0;
  private records = 0;
  private heartbeat?: NodeJS.Timeout;
  /** Records spooled and replayed over this process's life (tests, /healthz detail). */
  spooled = 0;
  replayed = 0;

  constructor(
    readonly dir: string,
    chain: string,
    readonly maxBytes: number,
    private readonly insertSql: string,
  ) {
    this.path = join(dir, spoolFileName(chain));
  }

  /** Records waiting for replay. */
  get backlog(): number {
    return this.records;
  }

  get full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  get size(): number {
    return this.bytes;
  }

  /** Append one record and fsync it; resolves once it is durable. Throws SpoolFullError past the bound. */
  async append(rows: string, carried: string[]): Promise<void> {
    const line = `${JSON.stringify({ id: randomUUID(), rows, carried } satisfies SpoolRecord)}\n`;
    const len = Buffer.byteLength(line);
    if (this.bytes + len > this.maxBytes) {
      this.bytes = Math.max(this.bytes, this.maxBytes);
      throw new SpoolFullError(this.maxBytes);
    }
    if (!this.fh) {
      mkdirSync(this.dir, { recursive: true });
      this.fh = await open(this.path, 'a');
      this.heartbeat = setInterval(() => {
        const t = new Date();
        utimes(this.path, t, t).catch(() => {});
      }, HEARTBEAT_MS);
      this.heartbeat.unref();
    }
    await this.fh.write(line);
    await this.fh.datasync();
    this.bytes += len;
    this.records++;
    this.spooled++;
  }

  /** Replay every record in order, then remove the file. Throws (keeping the file) if the store fails midway. */
  async replay(db: Db): Promise<number> {
    if (this.records === 0) return 0;
    const n = await replayFile(db, this.path, this.insertSql);
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await unlink(this.path).catch(() => {});
    this.bytes = 0;
    this.records = 0;
    this.replayed += n;
    return n;
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
  }
}

/** Replay one spool file's records in order, each in its own transaction, exactly once. */
export async function replayFile(db: Db, path: string, insertSql: string): Promise<number> {
  const text = await readFile(path, 'utf8');
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    let rec: SpoolRecord;
    try {
      rec = JSON.parse(line) as SpoolRecord;
    } catch {
      // A torn last line: the process died mid-append, before anyone was told the row was stored.
      continue;
    }
    await db.transaction(async (tx) => replayRecord(tx, rec, insertSql));
    n++;
  }
  return n;
}

async function replayRecord(tx: Queryable, rec: SpoolRecord, insertSql: string): Promise<void> {
  const fresh = await tx.query('INSERT INTO tollgate_audit_replay (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING id', [rec.id]);
  if (fresh.rowCount === 0) return;
  if (rec.rows !== '[]') {
    const ins = await tx.query(`${insertSql} ON CONFLICT (chain, seq) DO NOTHING`, [rec.rows]);
    // Every row there already: the original write committed before its connection dropped,
    // and so did the settlements it carried. Applying them again would charge twice.
    if (ins.rowCount === 0) return;
  }
  for (const sql of rec.carried) await tx.query(sql);
}

/**
 * Replay the spools of dead processes in `dir` (ours excluded). Each is renamed first so two
 * replicas starting together never replay the same file at once (the replay is idempotent anyway).
 */
export async function adoptDeadSpools(db: Db, dir: string, own: string, insertSql: string, log: (m: string) => void, nowMs = Date.now()): Promise<number> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(SUFFIX));
  } catch {
    return 0;
  }
  let total = 0;
  for (const f of files) {
    const path = join(dir, f);
    if (path === own) continue;
    const owner = ownerOf(f);
    let mtime: number;
    try {
      mtime = statSync(path).mtimeMs;
    } catch {
      continue;
    }
    // Our PID on a file older than this process: a previous incarnation (containers reuse PID 1).
    const ours = owner?.pid === process.pid && mtime < PROCESS_STARTED_MS;
    const dead = (owner && owner.host === hostname() && (ours || (owner.pid !== process.pid && !pidAlive(owner.pid)))) || nowMs - mtime > STALE_MS;
    if (!dead) continue;
    const claimed = `${path}.adopted-${process.pid}-${randomUUID().slice(0, 8)}`;
    try {
      await rename(path, claimed);
    } catch {
      continue; // another replica took it
    }
    try {
      const n = await replayFile(db, claimed, insertSql);
      await unlink(claimed);
      total += n;
      log(`replayed the audit spool of a process that died during a store outage: ${f} (${n} records)`);
    } catch (err) {
      // Put it back for the next attempt.
      await rename(claimed, path).catch(() => {});
      throw err;
    }
  }
  return total;
}

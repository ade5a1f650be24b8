/**
 * The audit writer: one hash chain per process, rows committed by group commit.
 *
 * Each process owns its chain, so replicas never contend for a global "last hash" lock. Rows
 * that arrive while a flush is running wait in memory and go together in the next INSERT; every
 * caller's promise resolves only after the statement holding its row has committed. One flush
 * at a time keeps sequence numbers and links in order without any database lock.
 */
import { sqlLiteral } from '../store/sql-literal';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../store/db';
import type { WriteSource } from '../store/shared-writes';
import { GENESIS_HASH, ROW_COLUMNS, rowHash, type AuditContent, type ChainedRow } from './record';

/** Upper bound per statement (keeps one INSERT's JSON parameter a sensible size). */
const MAX_BATCH = 500;

export function newChainId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

interface Pending {
  content: AuditContent;
  resolve(): void;
  reject(err: unknown): void;
}

export class AuditWriter {
  private pending: Pending[] = [];
  private seq = 0;
  private lastHash = GENESIS_HASH;
  /** Serialises flushes and exclusive jobs (retention) on this chain. */
  private lock: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private kickPending?: NodeJS.Immediate;
  private closed = false;
  /** Other features' writes carried in our transactions (spend settlements). */
  private readonly sources: WriteSource[] = [];
  /** Rows written, for tests and the operations log. */
  written = 0;

  constructor(
    private readonly db: Db,
    readonly chain: string = newChainId(),
  ) {}

  /** Resolves once the row is committed; rejects if the write failed (the row is then lost and the caller logs it). */
  append(content: AuditContent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit writer is closed'));
    const p = new Promise<void>((resolve, reject) => {
      this.pending.push({ content, resolve, reject });
      this.schedule();
    });
    // Handled from birth (issue 15): the caller's await still sees a rejection.
    p.catch(() => {});
    return p;
  }

  /** Carry `source`'s writes in our transactions until we close. */
  carry(source: WriteSource): void {
    this.sources.push(source);
    source.shareWith(() => {
      // Not at once: the request that queued a settlement appends its audit row within the same
      // turn of the event loop, and both should go in one transaction.
      if (this.closed || this.flushScheduled || this.kickPending) return;
      this.kickPending = setImmediate(() => {
        this.kickPending = undefined;
        this.schedule();
      });
    });
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Waiting for the lock is the group-commit window: rows keep arriving while the previous
    // INSERT is in flight, and all of them go in the next one.
    this.withLock(() => this.flush()).catch((err) => {
      for (const p of this.pending.splice(0)) p.reject(err);
    });
  }

  /** Run `fn` with the chain to itself: no flush interleaves. `place` chains rows written inside `fn`'s transaction. */
  exclusive<T>(fn: (place: (tx: Queryable, rows: AuditContent[]) => Promise<void>) => Promise<T>): Promise<T> {
    return this.withLock(async () => {
      const saved = { seq: this.seq, lastHash: this.lastHash };
      try {
        return await fn((tx, rows) => this.insert(tx, rows));
      } catch (err) {
        Object.assign(this, saved);
        throw err;
      }
    });
  }

  /** The chain's last link (sequence number and hash); stable inside `exclusive`. */
  head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.lastHash };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.kickPending) clearImmediate(this.kickPending);
    await this.withLock(async () => {
      if (this.pending.length || this.sources.some((s) => s.hasPending())) await this.flush();
    });
    for (const s of this.sources) s.shareWith(undefined);
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    while (this.pending.length || this.sources.some((s) => s.hasPending())) {
      const batch = this.pending.splice(0, MAX_BATCH);
      const carried = this.sources.map((s) => s.take()).filter((c) => c !== undefined);
      const saved = { seq: this.seq, lastHash: this.lastHash };
      try {
        await this.write(batch.map((p) => p.content), carried.map((c) => c.sql));
        for (const c of carried) c.done();
      } catch (err) {
        // Nothing of this transaction committed: rewind so the chain has no hole, let the
        // carried sources retry on their own, and retry our rows alone once.
        Object.assign(this, saved);
        for (const c of carried) c.done(err);
        if (carried.length && batch.length) {
          try {
            await this.write(batch.map((p) => p.content), []);
            this.written += batch.length;
            for (const p of batch) p.resolve();
            continue;
          } catch (again) {
            Object.assign(this, saved);
            err = again;
          }
        }
        for (const p of batch) p.reject(err);
        continue;
      }
      this.written += batch.length;
      for (const p of batch) p.resolve();
    }
  }

  /** One transaction: our rows (if any) and the carried statements. */
  private async write(contents: AuditContent[], carried: string[]): Promise<void> {
    if (this.db.kind === 'postgres') {
      // Committed, not fsynced, in one round trip: the row survives the gateway process dying
      // the moment after (the guarantee the response waits for); only a PostgreSQL server crash
      // within the WAL writer's window (≤ 3 × wal_writer_delay) could lose it. A durable commit
      // cost 9 ms per request on the benchmark machine's disk; see docs/operations.md. One
      // simple-protocol message holding all statements runs as one implicit transaction, so
      // set_config(…, true) (inside tollgate_audit_insert, migration 31) applies to this
      // transaction only, carried settlements included.
      const statements = contents.length
        ? [`SELECT tollgate_audit_insert(${sqlLiteral(this.chainRows(contents))}::jsonb)`]
        : [`SELECT set_config('synchronous_commit', 'off', true)`];
      statements.push(...carried);
      await this.db.query(statements.join('; '));
      return;
    }
    if (!carried.length) return this.insert(this.db, contents);
    await this.db.transaction(async (tx) => {
      await this.insert(tx, contents);
      for (const sql of carried) await tx.query(sql);
    });
  }

  private async insert(q: Queryable, contents: AuditContent[]): Promise<void> {
    if (!contents.length) return;
    await q.query(INSERT_SQL, [this.chainRows(contents)]);
  }

  /** Link `contents` onto the chain (advancing it) and return the rows as one JSON array. */
  private chainRows(contents: AuditContent[]): string {
    const rows: ChainedRow[] = [];
    for (const content of contents) {
      // One object per row: the hash covers every column but `hash` itself, and JSON.stringify
      // writes `at` as Date.prototype.toJSON does, the ISO form the hash used.
      const row: ChainedRow = { ...content, chain: this.chain, seq: String(++this.seq), prev_hash: this.lastHash, hash: '' };
      row.hash = rowHash(row);
      this.lastHash = row.hash;
      rows.push(row);
    }
    return JSON.stringify(rows);
  }
}

const COLUMN_TYPES: Record<(typeof ROW_COLUMNS)[number], string> = {
  chain: 'text', seq: 'bigint', at: 'timestamptz', event: 'text', request_id: 'text', sub: 'text', email: 'text', groups: 'jsonb',
  actor: 'text', surface: 'text', session_id: 'text', model: 'text', upstream: 'text', status: 'integer', outcome: 'text',
  reason: 'text', input_tokens: 'bigint', output_tokens: 'bigint', cache_read_tokens: 'bigint', cache_creation_tokens: 'bigint',
  cost_micros: 'bigint', latency_ms: 'integer', detail: 'jsonb', prev_hash: 'text', hash: 'text',
};

// One parameter whatever the batch size: the rows as a JSON array, expanded by the server.
// tollgate_audit_insert (migration 31) holds the same statement for PostgreSQL; a new column
// needs a migration that replaces that function too.
const INSERT_SQL = `INSERT INTO audit_log (${ROW_COLUMNS.join(', ')})
SELECT ${ROW_COLUMNS.join(', ')} FROM jsonb_to_recordset($1::jsonb) AS r(${ROW_COLUMNS.map((c) => `${c} ${COLUMN_TYPES[c]}`).join(', ')})
ORDER BY seq`;

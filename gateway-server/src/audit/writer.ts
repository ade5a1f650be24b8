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
import { isStoreUnreachableError } from '../store/health';
import { SpoolFullError, type AuditSpool } from './spool';
import { GENESIS_HASH, ROW_COLUMNS, rowHash, type AuditContent, type ChainedRow } from './record';

/** The store was already known to be down: spool without waiting for a connection attempt. */
class StoreDownError extends Error {
  constructor() {
    super('store unreachable');
  }
}

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
  /** Statements derived from each batch's rows, committed with them (console rollups). */
  private readonly derivers: ((contents: readonly AuditContent[]) => string | undefined)[] = [];
  /** Rows written (to PostgreSQL or the spool), for tests and the operations log. */
  written = 0;
  /** Where rows go while PostgreSQL is unreachable (PostgreSQL stores only). */
  spool?: AuditSpool;
  onReplayed?: (records: number) => void;

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

  /** Commit `derive(batch)`'s statement in the same transaction as every batch from now on. */
  deriveWith(derive: (contents: readonly AuditContent[]) => string | undefined): void {
    this.derivers.push(derive);
  }

  private derived(contents: readonly AuditContent[]): string[] {
    return this.derivers.map((d) => d(contents)).filter((s) => s !== undefined);
  }

  /** Replay the spool (if any) soon, even with nothing new to write: the store came back. */
  replaySoon(): void {
    if (!this.closed) this.schedule();
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
    // Rows still spooled stay on disk: the next process on this folder replays them.
    await this.spool?.close();
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
    if (this.spool?.backlog && !this.storeDown()) await this.replaySpool().catch(() => {});
    while (this.pending.length || this.sources.some((s) => s.hasPending())) {
      const batch = this.pending.splice(0, MAX_BATCH);
      const carried = this.sources.map((s) => s.take()).filter((c) => c !== undefined);
      const saved = { seq: this.seq, lastHash: this.lastHash };
      const rows = this.chainRows(batch.map((p) => p.content));
      const derived = this.derived(batch.map((p) => p.content));
      const sqls = [...derived, ...carried.map((c) => c.sql)];
      try {
        // Spooled rows go first: the chain reaches PostgreSQL in order.
        if (this.spool && (this.storeDown() || this.spool.backlog)) await this.replaySpool();
        await this.write(rows, batch.length, sqls);
        for (const c of carried) c.done();
      } catch (err) {
        if (this.spool && this.spoolable(err)) {
          try {
            await this.spool.append(rows, sqls);
            for (const c of carried) c.done();
            this.written += batch.length;
            for (const p of batch) p.resolve();
            continue;
          } catch (spoolErr) {
            err = spoolErr;
          }
        }
        // Nothing of this transaction committed: let the carried sources retry on their own,
        // retry our rows alone once, and rewind so the chain has no hole if that fails too.
        for (const c of carried) c.done(err);
        if (carried.length && batch.length && !this.spoolable(err)) {
          try {
            await this.write(rows, batch.length, derived);
            this.written += batch.length;
            for (const p of batch) p.resolve();
            continue;
          } catch (again) {
            err = again;
          }
        }
        Object.assign(this, saved);
        for (const p of batch) p.reject(err);
        continue;
      }
      this.written += batch.length;
      for (const p of batch) p.resolve();
    }
  }

  private storeDown(): boolean {
    return this.db.health?.reachable === false;
  }

  private spoolable(err: unknown): boolean {
    return !(err instanceof SpoolFullError) && (err instanceof StoreDownError || this.storeDown() || isStoreUnreachableError(err));
  }

  private async replaySpool(): Promise<void> {
    if (this.storeDown()) throw new StoreDownError();
    if (!this.spool?.backlog) return;
    const n = await this.spool.replay(this.db);
    this.onReplayed?.(n);
  }

  /** One transaction: our rows (if any, already chained) and the carried statements. */
  private async write(rows: string, count: number, carried: string[]): Promise<void> {
    if (this.db.kind === 'postgres') {
      // Committed, not fsynced, in one round trip: the row survives the gateway process dying
      // the moment after (the guarantee the response waits for); only a PostgreSQL server crash
      // within the WAL writer's window (≤ 3 × wal_writer_delay) could lose it. A durable commit
      // cost 9 ms per request on the benchmark machine's disk; see docs/operations.md. One
      // simple-protocol message holding all statements runs as one implicit transaction, so
      // set_config(…, true) (inside tollgate_audit_insert, migration 31) applies to this
      // transaction only, carried settlements included.
      const statements = count
        ? [`SELECT tollgate_audit_insert(${sqlLiteral(rows)}::jsonb)`]
        : [`SELECT set_config('synchronous_commit', 'off', true)`];
      statements.push(...carried);
      await this.db.query(statements.join('; '));
      return;
    }
    if (!carried.length) return this.insertChained(this.db, rows, count);
    await this.db.transaction(async (tx) => {
      await this.insertChained(tx, rows, count);
      for (const sql of carried) await tx.query(sql);
    });
  }

  private async insertChained(q: Queryable, rows: string, count: number): Promise<void> {
    if (count) await q.query(INSERT_SQL, [rows]);
  }

  private async insert(q: Queryable, contents: AuditContent[]): Promise<void> {
    if (!contents.length) return;
    await q.query(INSERT_SQL, [this.chainRows(contents)]);
    for (const sql of this.derived(contents)) await q.query(sql);
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
export const INSERT_SQL = `INSERT INTO audit_log (${ROW_COLUMNS.join(', ')})
SELECT ${ROW_COLUMNS.join(', ')} FROM jsonb_to_recordset($1::jsonb) AS r(${ROW_COLUMNS.map((c) => `${c} ${COLUMN_TYPES[c]}`).join(', ')})
ORDER BY seq`;

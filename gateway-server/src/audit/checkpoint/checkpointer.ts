/**
 * Writes a keyed checkpoint ("seal", seal.ts) every `every_rows` committed rows or
 * `every_seconds`, whichever comes first, as an `audit.seal` row of its own chain: the seal then
 * travels to every sink like any row. Off the request path (its own timer, its own writer), one
 * process at a time across replicas (the `#checkpoints` lease in tollgate_audit_sink).
 */
import { readFileSync } from 'node:fs';
import type { Db } from '../../store/db';
import { AuditWriter } from '../writer';
import { SinkCursor, type StreamPosition } from '../sinks/cursor';
import { normaliseRow } from '../record';
import { parseKeyFile, signSeal, type Seal, type SealKeys } from './seal';

export const SEAL_EVENT = 'audit.seal';
/** Not a valid sink name (sinks cannot start with #), so it never collides with one. */
const LEASE_NAME = '#checkpoints';

export interface CheckpointConfig {
  every_rows: number;
  every_seconds: number;
  signing_key_id: string;
  keys: { id: string; key: string }[];
  key_file?: string;
}

/** Every key the configuration names (inline and from the key file); throws a sentence when the signing key is missing. */
export function loadSealKeys(cfg: CheckpointConfig): SealKeys {
  const keys = new Map(cfg.key_file ? parseKeyFile(readFileSync(cfg.key_file, 'utf8'), cfg.key_file) : []);
  for (const k of cfg.keys) keys.set(k.id, Buffer.from(k.key, 'utf8'));
  if (!keys.has(cfg.signing_key_id)) throw new Error(`audit.checkpoints.signing_key_id: no key with id ${cfg.signing_key_id} in audit.checkpoints.keys or key_file`);
  return keys;
}

/** The newest seal, or undefined before the first one. */
export async function latestSeal(db: Db): Promise<Seal | undefined> {
  const { rows } = await db.query<{ detail: Seal }>(`SELECT detail FROM audit_log WHERE event = $1 ORDER BY id DESC LIMIT 1`, [SEAL_EVENT]);
  return rows[0]?.detail;
}

export class Checkpointer {
  private readonly cursor: SinkCursor;
  private readonly writer: AuditWriter;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  /** Rows read since the last seal, and where reading stopped. */
  private pending = { count: 0, real: 0, last: undefined as undefined | { pos: StreamPosition; hash: string } };
  private base?: { seal?: Seal; pos: StreamPosition };
  private sinceMs = Date.now();
  sealsWritten = 0;

  constructor(
    private readonly db: Db,
    private readonly cfg: CheckpointConfig,
    private readonly keys: SealKeys,
    owner: string,
    private readonly onError: (err: unknown) => void,
    private readonly pollMs = 1000,
  ) {
    this.cursor = new SinkCursor(db, LEASE_NAME, owner);
    this.writer = new AuditWriter(db);
  }

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.running;
    await this.cursor.release().catch(() => {});
    await this.writer.close();
  }

  private wake?: () => void;

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.tick();
      } catch (err) {
        this.base = undefined;
        this.pending = { count: 0, real: 0, last: undefined };
        this.onError(err);
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.pollMs);
        this.timer.unref();
      });
    }
  }

  /** Read what is new; seal when enough rows or enough time has gone by. */
  async tick(): Promise<void> {
    if (!(await this.cursor.lease(30_000))) {
      this.base = undefined;
      return;
    }
    if (!this.base) {
      const seal = await latestSeal(this.db);
      this.base = { seal, pos: seal ? { txid: seal.last_txid, id: seal.last_id } : { txid: '0', id: '0' } };
      this.pending = { count: 0, real: 0, last: undefined };
    }
    for (;;) {
      const from = this.pending.last?.pos ?? this.base.pos;
      const rows = await this.cursor.read(from, Math.min(1000, this.cfg.every_rows - this.pending.count));
      for (const r of rows) {
        const row = normaliseRow(r.raw);
        this.pending.count++;
        // A seal row alone is no reason for another seal: an idle log would seal itself forever.
        if (row.event !== SEAL_EVENT) this.pending.real++;
        this.pending.last = { pos: { txid: r.txid, id: String(r.raw.id) }, hash: row.hash };
      }
      if (this.pending.count >= this.cfg.every_rows) await this.seal();
      else if (rows.length === 0) break;
    }
    if (this.pending.real > 0 && Date.now() - this.sinceMs >= this.cfg.every_seconds * 1000) await this.seal();
  }

  private async seal(): Promise<void> {
    const base = this.base!;
    const last = this.pending.last!;
    const seal = signSeal(
      {
        v: 1,
        key_id: this.cfg.signing_key_id,
        from_txid: base.pos.txid,
        from_id: base.pos.id,
        last_txid: last.pos.txid,
        last_id: last.pos.id,
        last_hash: last.hash,
        count: this.pending.count,
        at: new Date().toISOString(),
        prev_mac: base.seal?.mac ?? '',
      },
      this.cfg.signing_key_id,
      this.keys,
    );
    await this.writer.append({
      at: new Date(seal.at), event: SEAL_EVENT, request_id: null, sub: null, email: null, groups: null, actor: 'tollgate:checkpointer',
      surface: null, session_id: null, model: null, upstream: null, status: null, outcome: 'ok', reason: null, input_tokens: null,
      output_tokens: null, cache_read_tokens: null, cache_creation_tokens: null, cost_micros: null, latency_ms: null,
      detail: seal as unknown as Record<string, unknown>,
    });
    this.sealsWritten++;
    this.base = { seal, pos: last.pos };
    this.pending = { count: 0, real: 0, last: undefined };
    this.sinceMs = Date.now();
  }
}

/**
 * Chain verification: recompute every row's hash, check every link and sequence number, and
 * check that a chain whose beginning was pruned starts exactly where a retention checkpoint
 * says it does. Reads in pages so a large log verifies in constant memory: the whole log
 * (`verifyAudit`, the CLI) or the rows of a time range (`verifyAuditRange`, the console badge),
 * both through the one ChainWalker.
 */
import type { Queryable } from '../store/db';
import { GENESIS_HASH, ROW_COLUMNS, normaliseRow, rowHash } from './record';

export type BreakKind = 'hash_mismatch' | 'broken_link' | 'sequence_gap' | 'unanchored_start' | 'duplicate_sequence';

export interface ChainBreak {
  chain: string;
  kind: BreakKind;
  /** Database id and sequence number of the first row that does not verify. */
  id: string;
  seq: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  rows: number;
  chains: number;
  checkpoints: number;
  /** The first broken link of each broken chain, in chain order. */
  breaks: ChainBreak[];
}

interface ChainState {
  firstSeq: bigint;
  firstPrev: string;
  firstId: string;
  lastSeq: bigint;
  lastHash: string;
  broken: boolean;
  /** Continued from a known row before a range: its start needs no anchor. */
  seeded?: boolean;
}

/** What a checkpoint row records about a chain whose older rows were pruned. */
export interface CheckpointDetail {
  chain: string;
  through_seq: string;
  hash: string;
}

const SELECT_ROWS = `SELECT id, ${ROW_COLUMNS.join(', ')} FROM audit_log`;

/** Checks rows fed in (chain, seq) order; keeps one small state per chain, never the rows. */
class ChainWalker {
  private readonly chains = new Map<string, ChainState>();
  private readonly breaks: ChainBreak[] = [];
  /** Latest anchor per chain: the checkpoint row with the highest through_seq wins. */
  readonly anchors = new Map<string, CheckpointDetail>();
  rows = 0;
  checkpoints = 0;

  /** Continue `chain` from a row already known (the row before a range), without counting it. */
  seed(chain: string, seq: string, hash: string): void {
    const s = BigInt(seq);
    this.chains.set(chain, { firstSeq: s, firstPrev: '', firstId: '', lastSeq: s, lastHash: hash, broken: false, seeded: true });
  }

  push(raw: Record<string, unknown>): void {
    this.rows++;
    const row = normaliseRow(raw);
    const id = String(raw.id);
    const seq = BigInt(row.seq);
    const st = this.chains.get(row.chain);
    const fail = (kind: BreakKind, message: string) => {
      const s = this.chains.get(row.chain)!;
      if (s.broken) return;
      s.broken = true;
      this.breaks.push({ chain: row.chain, kind, id, seq: row.seq, message });
    };
    if (!st) {
      this.chains.set(row.chain, { firstSeq: seq, firstPrev: row.prev_hash, firstId: id, lastSeq: seq, lastHash: row.hash, broken: false });
    } else {
      if (seq === st.lastSeq) fail('duplicate_sequence', `row ${id} repeats sequence number ${row.seq}`);
      else if (seq !== st.lastSeq + 1n) fail('sequence_gap', `rows ${st.lastSeq + 1n}..${seq - 1n} of this chain are missing before row ${id}`);
      else if (row.prev_hash !== st.lastHash) fail('broken_link', `row ${id} does not link to the row before it`);
      st.lastSeq = seq;
      st.lastHash = row.hash;
    }
    const { hash, ...rest } = row;
    if (rowHash(rest) !== hash) fail('hash_mismatch', `row ${id} was changed after it was written (its hash does not match its content)`);
    if (row.event === 'audit.checkpoint' && row.detail) {
      this.checkpoints++;
      this.anchor(row.detail);
    }
  }

  anchor(detail: Record<string, unknown>): void {
    for (const c of (detail.chains as CheckpointDetail[] | undefined) ?? []) {
      const prev = this.anchors.get(c.chain);
      if (!prev || BigInt(c.through_seq) > BigInt(prev.through_seq)) this.anchors.set(c.chain, c);
    }
  }

  /** Chains that start neither at row 1 nor on a checkpoint nor on a seeded row are unanchored. */
  finish(): VerifyReport {
    for (const [chain, st] of this.chains) {
      if (st.seeded) continue;
      if (st.firstSeq === 1n && st.firstPrev === GENESIS_HASH) continue;
      const anchor = this.anchors.get(chain);
      const anchored = anchor && BigInt(anchor.through_seq) + 1n === st.firstSeq && anchor.hash === st.firstPrev;
      if (!anchored && !this.breaks.some((b) => b.chain === chain && b.seq === String(st.firstSeq))) {
        this.breaks.push({
          chain,
          kind: 'unanchored_start',
          id: st.firstId,
          seq: String(st.firstSeq),
          message: `the chain starts at row ${st.firstId} (sequence ${st.firstSeq}) but no retention checkpoint accounts for the rows before it`,
        });
      }
    }
    const breaks = [...this.breaks].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
    return { ok: breaks.length === 0, rows: this.rows, chains: this.chains.size, checkpoints: this.checkpoints, breaks };
  }
}

/** Feed `walker` every row of `chain` (or of all chains) with seq in [from, to], page by page. */
async function walk(db: Queryable, walker: ChainWalker, pageSize: number, span?: { chain: string; from: string; to: string }): Promise<void> {
  let after: { chain: string; seq: string } | undefined = span ? { chain: span.chain, seq: String(BigInt(span.from) - 1n) } : undefined;
  for (;;) {
    const params: unknown[] = after ? [after.chain, after.seq] : [];
    const where = after ? ['(chain, seq) > ($1, $2::bigint)'] : [];
    if (span) where.push(`chain = $${params.push(span.chain)}`, `seq <= $${params.push(span.to)}::bigint`);
    const res = await db.query<Record<string, unknown>>(
      `${SELECT_ROWS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY chain, seq LIMIT ${Number(pageSize)}`,
      params,
    );
    for (const raw of res.rows) walker.push(raw);
    if (res.rows.length < pageSize) return;
    const last = res.rows[res.rows.length - 1]!;
    after = { chain: String(last.chain), seq: String(last.seq) };
  }
}

export async function verifyAudit(db: Queryable, pageSize = 2000): Promise<VerifyReport> {
  const walker = new ChainWalker();
  await walk(db, walker, pageSize);
  return walker.finish();
}

export interface VerifyRange {
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

/**
 * Verify the rows written in a time range: per chain, every row from the first to the last
 * sequence number the range holds (rows of other times written between them included), linked
 * to the row just before them (or to the start of the chain, or to a retention checkpoint).
 */
export async function verifyAuditRange(db: Queryable, range: VerifyRange, pageSize = 2000): Promise<VerifyReport> {
  if (!range.since && !range.until) return verifyAudit(db, pageSize);
  const params: unknown[] = [];
  const where: string[] = [];
  if (range.since) where.push(`at >= $${params.push(range.since.toISOString())}::timestamptz`);
  if (range.until) where.push(`at < $${params.push(range.until.toISOString())}::timestamptz`);
  const { rows: spans } = await db.query<{ chain: string; lo: string; hi: string }>(
    `SELECT chain, min(seq)::text AS lo, max(seq)::text AS hi FROM audit_log WHERE ${where.join(' AND ')} GROUP BY chain ORDER BY chain`,
    params,
  );
  const walker = new ChainWalker();
  let anchorsRead = false;
  for (const s of spans) {
    if (s.lo !== '1') {
      const { rows } = await db.query<{ hash: string }>('SELECT hash FROM audit_log WHERE chain = $1 AND seq = $2::bigint', [s.chain, String(BigInt(s.lo) - 1n)]);
      if (rows[0]) walker.seed(s.chain, String(BigInt(s.lo) - 1n), rows[0].hash);
      else if (!anchorsRead) {
        // The row before was pruned: the chain must start on a retention checkpoint (rare; unindexed read).
        const cps = await db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM audit_log WHERE event = 'audit.checkpoint'`);
        for (const r of cps.rows) walker.anchor(r.detail);
        anchorsRead = true;
      }
    }
    await walk(db, walker, pageSize, { chain: s.chain, from: s.lo, to: s.hi });
  }
  return walker.finish();
}

/**
 * Chain verification: recompute every row's hash, check every link and sequence number, and
 * check that a chain whose beginning was pruned starts exactly where a retention checkpoint
 * says it does. Reads in pages so a large log verifies in constant memory.
 */
import type { Queryable } from '../store/db';
import { GENESIS_HASH, ROW_COLUMNS, normaliseRow, rowHash, type ChainedRow } from './record';

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
}

/** What a checkpoint row records about a chain whose older rows were pruned. */
export interface CheckpointDetail {
  chain: string;
  through_seq: string;
  hash: string;
}

export async function verifyAudit(db: Queryable, pageSize = 2000): Promise<VerifyReport> {
  const chains = new Map<string, ChainState>();
  const breaks: ChainBreak[] = [];
  // Latest anchor per chain: the checkpoint row with the highest through_seq wins.
  const anchors = new Map<string, CheckpointDetail>();
  let rows = 0;
  let checkpoints = 0;
  let after: { chain: string; seq: string } | undefined;
  for (;;) {
    const res = await db.query<Record<string, unknown>>(
      `SELECT id, ${ROW_COLUMNS.join(', ')} FROM audit_log
       ${after ? 'WHERE (chain, seq) > ($1, $2::bigint)' : ''}
       ORDER BY chain, seq LIMIT ${Number(pageSize)}`,
      after ? [after.chain, after.seq] : [],
    );
    for (const raw of res.rows) {
      rows++;
      const row = normaliseRow(raw);
      const id = String(raw.id);
      const seq = BigInt(row.seq);
      const st = chains.get(row.chain);
      const fail = (kind: BreakKind, message: string) => {
        const s = chains.get(row.chain)!;
        if (s.broken) return;
        s.broken = true;
        breaks.push({ chain: row.chain, kind, id, seq: row.seq, message });
      };
      if (!st) {
        chains.set(row.chain, { firstSeq: seq, firstPrev: row.prev_hash, firstId: id, lastSeq: seq, lastHash: row.hash, broken: false });
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
        checkpoints++;
        for (const c of (row.detail.chains as CheckpointDetail[] | undefined) ?? []) {
          const prev = anchors.get(c.chain);
          if (!prev || BigInt(c.through_seq) > BigInt(prev.through_seq)) anchors.set(c.chain, c);
        }
      }
    }
    if (res.rows.length < pageSize) break;
    const last = res.rows[res.rows.length - 1]!;
    after = { chain: String(last.chain), seq: String(last.seq) };
  }
  for (const [chain, st] of chains) {
    if (st.firstSeq === 1n && st.firstPrev === GENESIS_HASH) continue;
    const anchor = anchors.get(chain);
    const anchored = anchor && BigInt(anchor.through_seq) + 1n === st.firstSeq && anchor.hash === st.firstPrev;
    if (!anchored && !breaks.some((b) => b.chain === chain && b.seq === String(st.firstSeq))) {
      breaks.push({
        chain,
        kind: 'unanchored_start',
        id: st.firstId,
        seq: String(st.firstSeq),
        message: `the chain starts at row ${st.firstId} (sequence ${st.firstSeq}) but no retention checkpoint accounts for the rows before it`,
      });
    }
  }
  breaks.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return { ok: breaks.length === 0, rows, chains: chains.size, checkpoints, breaks };
}

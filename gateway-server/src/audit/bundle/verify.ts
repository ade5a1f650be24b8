/**
 * `audit verify-bundle`: check an exported bundle offline, with the checkpoint keys and
 * optionally the seals a sink received (the copy an attacker with database access could not
 * rewrite). Pure apart from reading the three files. Names the first problem by row:
 * edited, deleted, reordered, truncated, or a checkpoint that does not verify.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS_HASH, normaliseRow, rowHash, type ChainedRow } from '../record';
import { checkSeal, type Seal, type SealKeys } from '../checkpoint/seal';
import { SEAL_EVENT } from '../checkpoint/checkpointer';

export type BundleProblemKind = 'file_changed' | 'edited' | 'deleted' | 'reordered' | 'truncated' | 'bad_checkpoint' | 'missing_checkpoint';

export interface BundleProblem {
  kind: BundleProblemKind;
  /** The row the problem is named by (absent for whole-file and checkpoint-only problems). */
  row_id?: string;
  /** Line in rows.jsonl (1-based) where the problem shows, for ordering. */
  line: number;
  message: string;
}

export interface BundleReport {
  ok: boolean;
  rows: number;
  checkpoints: number;
  uncovered_rows: number;
  problems: BundleProblem[];
}

type Row = ChainedRow & { id: string };

function parseLines<T>(text: string): T[] {
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/** An OCSF event (sink with `schema: ocsf`) of an audit.seal row carries the seal in `unmapped.detail`. */
function ocsfSeal(o: Record<string, unknown>): Seal | undefined {
  const meta = o.metadata as { event_code?: unknown } | undefined;
  return meta?.event_code === SEAL_EVENT ? ((o.unmapped as { detail?: Seal } | undefined)?.detail ?? undefined) : undefined;
}

/** Seals from a sink: bare seals, audit entries/rows of event audit.seal carrying one in `detail`, or their OCSF events. */
export function sealsFrom(text: string): Seal[] {
  return parseLines<Record<string, unknown>>(text).flatMap((o) => {
    if (o.event === SEAL_EVENT) return [o.detail as Seal];
    if ('mac' in o && 'last_id' in o) return [o as unknown as Seal];
    const seal = ocsfSeal(o);
    return seal ? [seal] : [];
  });
}

function checkRows(rows: Row[], problems: BundleProblem[]): void {
  const bySeq = new Map<string, Map<string, number>>();
  rows.forEach((r, i) => {
    const m = bySeq.get(r.chain) ?? new Map<string, number>();
    m.set(r.seq, i);
    bySeq.set(r.chain, m);
  });
  const last = new Map<string, { seq: bigint; hash: string; id: string }>();
  rows.forEach((r, i) => {
    const line = i + 1;
    const { id: _id, hash, ...rest } = r;
    if (rowHash(rest) !== hash) problems.push({ kind: 'edited', row_id: r.id, line, message: `row ${r.id} (chain ${r.chain} seq ${r.seq}) was edited: its content does not match its hash` });
    const seq = BigInt(r.seq);
    const prev = last.get(r.chain);
    if (!prev) {
      if (seq === 1n && r.prev_hash !== GENESIS_HASH) problems.push({ kind: 'edited', row_id: r.id, line, message: `row ${r.id} starts chain ${r.chain} but does not link to the genesis hash` });
    } else if (seq <= prev.seq) {
      problems.push({ kind: 'reordered', row_id: r.id, line, message: `row ${r.id} (chain ${r.chain} seq ${r.seq}) comes after seq ${prev.seq}: rows were reordered` });
      return;
    } else if (seq > prev.seq + 1n) {
      const missing = String(prev.seq + 1n);
      const later = bySeq.get(r.chain)!.get(missing);
      if (later !== undefined && later > i) {
        problems.push({ kind: 'reordered', row_id: rows[later]!.id, line, message: `row ${rows[later]!.id} (chain ${r.chain} seq ${missing}) appears after row ${r.id} (seq ${r.seq}): rows were reordered` });
      } else {
        const range = seq - 1n === prev.seq + 1n ? `seq ${missing}` : `seq ${missing}..${seq - 1n}`;
        problems.push({ kind: 'deleted', row_id: r.id, line, message: `chain ${r.chain} ${range} is missing before row ${r.id}: rows were deleted after row ${prev.id}` });
      }
    } else if (r.prev_hash !== prev.hash) {
      problems.push({ kind: 'edited', row_id: prev.id, line, message: `row ${r.id} does not link to row ${prev.id}: row ${prev.id} was edited (and its hash recomputed)` });
    }
    last.set(r.chain, { seq: seq > (prev?.seq ?? 0n) ? seq : prev!.seq, hash: seq > (prev?.seq ?? 0n) ? r.hash : prev!.hash, id: r.id });
  });
}

function checkSeals(rows: Row[], seals: Seal[], keys: SealKeys, problems: BundleProblem[]): number {
  const index = new Map(rows.map((r, i) => [r.id, i]));
  const maxId = rows.reduce((m, r) => (BigInt(r.id) > m ? BigInt(r.id) : m), 0n);
  let prev: Seal | undefined;
  let prevIdx = -1;
  const end = rows.length + 1;
  for (const [n, s] of seals.entries()) {
    const name = `checkpoint ${n + 1} (key ${s.key_id}, ${s.at}, through row ${s.last_id})`;
    const sig = checkSeal(s, keys);
    if (sig !== 'ok') {
      // Named at the row it claims to seal, so it sorts before what follows from it.
      const at = index.get(s.last_id);
      problems.push({
        kind: 'bad_checkpoint',
        row_id: s.last_id,
        line: at === undefined ? end : at + 1,
        message: `${name} ${sig === 'unknown_key' ? 'names a key id you did not supply' : 'is not signed by its key: wrong key, or the checkpoint was edited'}`,
      });
    } else if (prev && (s.prev_mac !== prev.mac || s.from_id !== prev.last_id || s.from_txid !== prev.last_txid)) {
      problems.push({ kind: 'missing_checkpoint', line: end, message: `${name} does not follow checkpoint ${n}: a checkpoint between them is missing` });
    }
    const idx = index.get(s.last_id);
    if (idx === undefined) {
      const truncated = BigInt(s.last_id) > maxId;
      problems.push({
        kind: truncated ? 'truncated' : 'deleted',
        row_id: s.last_id,
        line: truncated ? end : prevIdx + 2,
        message: truncated
          ? `row ${s.last_id} is covered by ${name} but missing: the bundle was truncated (rows after row ${rows.at(-1)?.id ?? 'none'} are gone)`
          : `row ${s.last_id}, covered by ${name}, was deleted`,
      });
    } else {
      if (rows[idx]!.hash !== s.last_hash) problems.push({ kind: 'edited', row_id: s.last_id, line: idx + 1, message: `row ${s.last_id} differs from what ${name} sealed` });
      const between = idx - prevIdx;
      if (between !== s.count) {
        problems.push({
          kind: between < s.count ? 'deleted' : 'edited',
          row_id: s.last_id,
          line: idx + 1,
          message: `${name} covers ${s.count} rows but the bundle holds ${between} ${prev ? `after row ${prev.last_id}` : 'before it'}: ${between < s.count ? `${s.count - between} deleted` : `${between - s.count} inserted`}`,
        });
      }
      prevIdx = idx;
    }
    prev = s;
  }
  return rows.length - (prevIdx + 1);
}

export function verifyBundle(dir: string, keys: SealKeys, sinkSeals: Seal[] = []): BundleReport {
  const problems: BundleProblem[] = [];
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
  const texts: Record<string, string> = {};
  for (const f of ['rows.jsonl', 'checkpoints.jsonl']) {
    texts[f] = readFileSync(join(dir, f), 'utf8');
    if (createHash('sha256').update(texts[f]!).digest('hex') !== manifest.files[f]?.sha256) {
      problems.push({ kind: 'file_changed', line: 0, message: `${f} is not the file that was exported (its SHA-256 differs from manifest.json)` });
    }
  }
  const rows = parseLines<Record<string, unknown>>(texts['rows.jsonl']!).map((o) => ({ ...normaliseRow(o), id: String(o.id) }));
  const byMac = new Map<string, Seal>();
  for (const s of [...sealsFrom(texts['checkpoints.jsonl']!), ...sinkSeals]) byMac.set(s.mac, s);
  const seals = [...byMac.values()].sort((a, b) => (BigInt(a.last_txid) - BigInt(b.last_txid) || BigInt(a.last_id) - BigInt(b.last_id) ? (BigInt(a.last_txid) < BigInt(b.last_txid) || (a.last_txid === b.last_txid && BigInt(a.last_id) < BigInt(b.last_id)) ? -1 : 1) : 0));
  checkRows(rows, problems);
  const uncovered = checkSeals(rows, seals, keys, problems);
  problems.sort((a, b) => a.line - b.line);
  const bad = problems.filter((p) => p.kind !== 'file_changed');
  return { ok: problems.length === 0, rows: rows.length, checkpoints: seals.length, uncovered_rows: uncovered, problems: bad.length ? [...bad, ...problems.filter((p) => p.kind === 'file_changed')] : problems };
}

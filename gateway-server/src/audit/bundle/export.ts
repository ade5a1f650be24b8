/**
 * `audit export`: a self-contained bundle an auditor verifies offline (verify.ts). The range is
 * widened to checkpoint boundaries, so every row in it is covered by a keyed seal, except the
 * newest rows after the last seal (counted in the manifest as `uncovered_rows`).
 *
 *   rows.jsonl         every audit row (all columns, as hashed) in stream order
 *   checkpoints.jsonl  the seals covering those rows, oldest first
 *   manifest.json      range, counts, and the SHA-256 of both files
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../../store/db';
import { SinkCursor, type StreamPosition } from '../sinks/cursor';
import { normaliseRow } from '../record';
import { SEAL_EVENT } from '../checkpoint/checkpointer';
import type { Seal } from '../checkpoint/seal';

export const BUNDLE_FORMAT = 'tollgate-audit-bundle/1';

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  created_at: string;
  from: string;
  to: string;
  rows: number;
  checkpoints: number;
  uncovered_rows: number;
  files: Record<'rows.jsonl' | 'checkpoints.jsonl', { sha256: string; bytes: number }>;
}

const after = (a: StreamPosition, b: StreamPosition) => BigInt(a.txid) > BigInt(b.txid) || (a.txid === b.txid && BigInt(a.id) > BigInt(b.id));
const lastPos = (s: Seal): StreamPosition => ({ txid: s.last_txid, id: s.last_id });

export async function exportBundle(db: Db, range: { from: Date; to: Date }, out: string): Promise<BundleManifest> {
  const { rows: sealRows } = await db.query<{ detail: Seal }>(`SELECT detail FROM audit_log WHERE event = $1 ORDER BY id`, [SEAL_EVENT]);
  const seals = sealRows.map((r) => r.detail);
  const before = seals.filter((s) => Date.parse(s.at) < range.from.getTime()).at(-1);
  const start: StreamPosition = before ? lastPos(before) : { txid: '0', id: '0' };
  const endSeal = seals.find((s) => Date.parse(s.at) >= range.to.getTime());
  const end = endSeal ? lastPos(endSeal) : undefined;
  const covering = seals.filter((s) => after({ txid: s.from_txid, id: s.from_id }, start) || (s.from_txid === start.txid && s.from_id === start.id)).filter((s) => !end || !after(lastPos(s), end));
  const lastCovered = covering.at(-1);

  const reader = new SinkCursor(db, '#export', 'export');
  const lines: string[] = [];
  let uncovered = 0;
  let pos = start;
  for (;;) {
    const page = await reader.read(pos, 2000);
    let done = page.length === 0;
    for (const r of page) {
      const p = { txid: r.txid, id: String(r.raw.id) };
      if (end && after(p, end)) {
        done = true;
        break;
      }
      const row = normaliseRow(r.raw);
      lines.push(`${JSON.stringify({ id: p.id, ...row, at: row.at.toISOString() })}\n`);
      if (!lastCovered || after(p, lastPos(lastCovered))) uncovered++;
      pos = p;
    }
    if (done) break;
  }
  const rowsText = lines.join('');
  const cpText = covering.map((s) => `${JSON.stringify(s)}\n`).join('');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'rows.jsonl'), rowsText);
  await writeFile(join(out, 'checkpoints.jsonl'), cpText);
  const file = (t: string) => ({ sha256: createHash('sha256').update(t).digest('hex'), bytes: Buffer.byteLength(t) });
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    created_at: new Date().toISOString(),
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    rows: lines.length,
    checkpoints: covering.length,
    uncovered_rows: uncovered,
    files: { 'rows.jsonl': file(rowsText), 'checkpoints.jsonl': file(cpText) },
  };
  await writeFile(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

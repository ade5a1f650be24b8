/**
 * Independent checks on what audit sinks received: ids exactly once (or counted duplicates), in
 * chain order, against the rows the audit table holds.
 */
import assert from 'node:assert/strict';
import type { Queryable } from '../../gateway-server/src/store/db';
import type { OtlpReceiver } from './otlp-receiver';
import type { SplunkHec } from './splunk-hec';

export interface Shipped {
  id: string;
  chain: string;
  seq: string;
  event: string;
  hash: string;
}

export function otlpEntries(r: OtlpReceiver): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const e of r.received) {
    if (e.signal !== 'logs' || !e.decoded || e.status !== 200) continue;
    for (const rl of (e.decoded.resourceLogs as Record<string, any>[]) ?? []) {
      for (const sl of rl.scopeLogs ?? []) for (const lr of sl.logRecords ?? []) out.push({ ...(JSON.parse(lr.body.stringValue) as object), _record: lr });
    }
  }
  return out;
}

export function hecEntries(h: SplunkHec): Record<string, unknown>[] {
  return h.batches.flat().map((e) => e.event);
}

export async function auditIds(db: Queryable): Promise<Map<string, Shipped>> {
  const { rows } = await db.query<Record<string, unknown>>(`SELECT id::text AS id, chain, seq::text AS seq, event, hash FROM audit_log ORDER BY id`);
  return new Map(rows.map((r) => [String(r.id), r as unknown as Shipped]));
}

/**
 * Every row of `expected` arrived; returns the number of duplicates (0 unless the caller allows
 * them). Per chain, first arrivals come in sequence order with no gap.
 */
export function assertDelivered(name: string, got: Record<string, unknown>[], expected: Map<string, Shipped>, allowDuplicates = false): number {
  const seen = new Set<string>();
  const lastSeq = new Map<string, bigint>();
  let duplicates = 0;
  for (const e of got) {
    const id = String(e.id);
    const want = expected.get(id);
    assert.ok(want, `${name}: received row ${id}, which the audit table does not hold`);
    assert.equal(e.hash, want.hash, `${name}: row ${id} arrived with a different hash`);
    if (seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    const seq = BigInt(String(e.seq));
    const prev = lastSeq.get(want.chain);
    if (prev !== undefined) assert.equal(seq, prev + 1n, `${name}: chain ${want.chain} went from seq ${prev} to ${seq} (row ${id})`);
    lastSeq.set(want.chain, seq);
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  assert.deepEqual(missing.slice(0, 10), [], `${name}: ${missing.length} rows never arrived`);
  if (!allowDuplicates) assert.equal(duplicates, 0, `${name}: ${duplicates} rows arrived more than once`);
  return duplicates;
}

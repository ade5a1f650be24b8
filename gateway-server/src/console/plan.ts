/**
 * Which rollup blocks a range needs. A report's range is cut at its buckets' boundaries (local
 * midnights of the display zone); each piece [a, b) is then written as a signed sum of aligned
 * blocks of one tier's grains, coarsest first, and of audit rows for what no block covers (a
 * range that starts or ends mid-quarter-hour). A block may reach outside the piece when
 * subtracting the part outside is cheaper than adding up the inside (a Europe/Berlin day is a
 * UTC day minus one hour plus one hour, not 23 + 1 hours). Every instant of [a, b) is counted
 * exactly once, so sums stay exact. Pure: no database.
 */

const MINUTE = 60_000;
const QUARTER = 15 * MINUTE;

/** A signed range of blocks of one grain (minutes), or of audit rows (grain 0). */
export interface Segment {
  grain: number;
  lo: number;
  hi: number;
  sign: 1 | -1;
}

/** Rough rows read per block of each grain, and per quarter-hour of audit rows: what a plan minimises. */
export interface Costs {
  grains: readonly number[];
  weights: readonly number[];
  auditPerQuarter: number;
}

interface Plan {
  cost: number;
  segs: Segment[];
}

/** Blocks are aligned to this Monday, UTC midnight (rollup.ts bins with the same origin). */
const ORIGIN = Date.UTC(2000, 0, 3);
const floorTo = (t: number, step: number) => Math.floor((t - ORIGIN) / step) * step + ORIGIN;
const ceilTo = (t: number, step: number) => Math.ceil((t - ORIGIN) / step) * step + ORIGIN;
const negate = (p: Plan): Plan => ({ cost: p.cost, segs: p.segs.map((s) => ({ ...s, sign: s.sign === 1 ? -1 : 1 })) });

function cover(a: number, b: number, level: number, c: Costs, memo: Map<string, Plan>): Plan {
  if (a >= b) return { cost: 0, segs: [] };
  if (level < 0) return { cost: c.auditPerQuarter * Math.max(1, (b - a) / QUARTER), segs: [{ grain: 0, lo: a, hi: b, sign: 1 }] };
  // The same edges recur across the alternatives of every coarser level: plan each once.
  const id = `${a}:${b}:${level}`;
  const known = memo.get(id);
  if (known) return known;
  const plan = coverAt(a, b, level, c, memo);
  memo.set(id, plan);
  return plan;
}

function coverAt(a: number, b: number, level: number, c: Costs, memo: Map<string, Plan>): Plan {
  const grain = c.grains[level]!;
  const step = grain * MINUTE;
  // A piece holding two whole blocks or more is never cheaper in finer blocks alone: skip that search.
  let best: Plan = (floorTo(b, step) - ceilTo(a, step)) / step >= 2 ? { cost: Infinity, segs: [] } : cover(a, b, level - 1, c, memo);
  for (const A of new Set([ceilTo(a, step), floorTo(a, step)])) {
    for (const B of new Set([floorTo(b, step), ceilTo(b, step)])) {
      if (A >= B) continue;
      const blocks = ((B - A) / step) * c.weights[level]!;
      if (blocks >= best.cost) continue;
      const left = A >= a ? cover(a, A, level - 1, c, memo) : negate(cover(A, a, level - 1, c, memo));
      const right = B <= b ? cover(B, b, level - 1, c, memo) : negate(cover(b, B, level - 1, c, memo));
      const cost = blocks + left.cost + right.cost;
      if (cost < best.cost) best = { cost, segs: [{ grain, lo: A, hi: B, sign: 1 }, ...left.segs, ...right.segs] };
    }
  }
  return best;
}

/** The signed segments whose sum is exactly [a, b) (ms since the epoch). */
export function planRange(a: number, b: number, costs: Costs): Segment[] {
  return cover(a, b, costs.grains.length - 1, costs, new Map()).segs;
}

/** The pieces of [from, to) between consecutive bucket starts (ascending), each with its bucket's label. */
export function splitAtBuckets(from: number, to: number, starts: readonly { label: string | null; at: number }[]): { label: string | null; a: number; b: number }[] {
  const out: { label: string | null; a: number; b: number }[] = [];
  for (let i = 0; i < starts.length; i++) {
    // The first bucket starts at or before `from`; clamp anyway, so nothing before it is lost.
    const a = i === 0 ? from : Math.max(from, starts[i]!.at);
    const b = Math.min(to, starts[i + 1]?.at ?? to);
    if (a < b) out.push({ label: starts[i]!.label, a, b });
  }
  return out;
}

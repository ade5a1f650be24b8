/**
 * Reads a V8 .cpuprofile (written by `node --cpu-prof`) and totals self time per function and
 * per origin (our bundle, fastify, undici, pino, node internals, GC/idle), so the hot path can
 * be read without a browser.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  byOrigin: { origin: string; ms: number; share: number }[];
  topFunctions: { fn: string; ms: number; share: number }[];
}

export function origin(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)') return 'program (native)';
  if (!url) return 'native';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node core';
  if (url.includes('tollgate-gateway.js')) return 'tollgate (bundle)';
  return url.replace(/^.*\//, '');
}

export function summarizeProfile(path: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const fnMs = new Map<string, number>();
  const originMs = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const o = origin(url, functionName);
    if (o === 'idle') {
      idle += ms;
      continue;
    }
    total += ms;
    originMs.set(o, (originMs.get(o) ?? 0) + ms);
    const key = `${functionName || '(anonymous)'} ${o}${url ? `:${lineNumber + 1}` : ''}`;
    fnMs.set(key, (fnMs.get(key) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total,
    idleMs: idle,
    byOrigin: sorted(originMs).map(([o, ms]) => ({ origin: o, ms, share: ms / total })),
    topFunctions: sorted(fnMs)
      .slice(0, top)
      .map(([fn, ms]) => ({ fn, ms, share: ms / total })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${s.totalMs.toFixed(0)} ms (idle ${s.idleMs.toFixed(0)} ms)`, '', 'self time by origin:'];
  for (const o of s.byOrigin.slice(0, 15)) lines.push(`  ${pct(o.share)}  ${o.ms.toFixed(0).padStart(7)} ms  ${o.origin}`);
  lines.push('', 'top functions (self time):');
  for (const f of s.topFunctions) lines.push(`  ${pct(f.share)}  ${f.ms.toFixed(0).padStart(7)} ms  ${f.fn}`);
  return lines.join('\n');
}

if (process.argv[1] && /profile-summary\.ts$/.test(process.argv[1]) && process.argv[2]) {
  process.stdout.write(formatProfile(summarizeProfile(process.argv[2])) + '\n');
}

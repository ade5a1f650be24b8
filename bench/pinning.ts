/**
 * `--pin`: give the gateway under test a core of its own. On a 2-core machine the load generator,
 * the mock upstream, PostgreSQL and the gateway otherwise take turns on both cores, and every
 * loopback hop can wait for one; pinned, the gateway runs on the last core and everything else on
 * the others, which is what "one replica on one core" means in a deployment.
 *
 * PostgreSQL's processes are moved too (new backends inherit the postmaster's affinity); the
 * original affinities are put back when the run ends. Linux only (taskset, /proc), and it needs
 * permission to change PostgreSQL's processes (root, or the postgres user).
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

export interface Pinning {
  gatewayCpu: number;
  otherCpus: string;
  /** The gateway process and all of its threads onto its own core. */
  pinGateway(pid: number): void;
  /** Another helper process (the mock upstream) onto the shared cores. */
  pinHelper(pid: number): void;
  restore(): void;
  note: string;
}

function affinity(pid: number): string | undefined {
  try {
    return execFileSync('taskset', ['-p', '-c', String(pid)], { encoding: 'utf8' }).split(':').pop()!.trim();
  } catch {
    return undefined; // the process is gone
  }
}

/** False when the process is gone or not ours to move (PostgreSQL's, without root). */
function setAffinity(pid: number, list: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function postgresPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'postgres'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function pinCores(): Pinning {
  const n = cpus().length;
  if (n < 2) throw new Error('--pin needs at least 2 cores');
  const gatewayCpu = n - 1;
  const otherCpus = n === 2 ? '0' : `0-${n - 2}`;
  const saved = new Map<number, string>();
  const move = (pid: number, list: string): boolean => {
    const before = affinity(pid);
    if (before === undefined) return false;
    if (!setAffinity(pid, list)) return false;
    if (!saved.has(pid)) saved.set(pid, before);
    return true;
  };
  if (!move(process.pid, otherCpus)) throw new Error('--pin: taskset could not set this process\'s CPU affinity (is util-linux installed?)');
  const pg = postgresPids();
  const movedPg = pg.filter((pid) => move(pid, otherCpus)).length;
  return {
    gatewayCpu,
    otherCpus,
    pinGateway: (pid) => move(pid, String(gatewayCpu)),
    pinHelper: (pid) => move(pid, otherCpus),
    restore() {
      // Backends forked while pinned inherited the pinned set: widen every postgres process.
      const all = `0-${n - 1}`;
      for (const pid of postgresPids()) if (!saved.has(pid)) setAffinity(pid, all);
      for (const [pid, list] of saved) setAffinity(pid, list);
    },
    note:
      `gateway pinned to CPU ${gatewayCpu}; load generator and mock upstream to CPU ${otherCpus}; ` +
      (movedPg === pg.length && pg.length
        ? `PostgreSQL (${pg.length} processes) to CPU ${otherCpus}`
        : `PostgreSQL moved for ${movedPg} of ${pg.length} processes (the rest are not ours to move: run as root or as postgres to pin it)`),
  };
}

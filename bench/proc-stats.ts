/**
 * CPU and memory of another local process, read from /proc so the measured process needs no
 * instrumentation: utime+stime ticks (USER_HZ, 100 on Linux) and VmRSS sampled for the peak.
 */
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // sysconf(_SC_CLK_TCK) is 100 on every Linux kernel Node supports.

/** CPU time (user + system) in ms, or NaN when the process is not readable (not Linux, gone). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples RSS every `everyMs` until stopped; returns the peak seen. */
export function rssSampler(pid: number, everyMs = 50): { stop(): number } {
  let peak = rssMb(pid);
  const t = setInterval(() => {
    const v = rssMb(pid);
    if (!(v <= peak)) peak = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      const v = rssMb(pid);
      return v > peak ? v : peak;
    },
  };
}

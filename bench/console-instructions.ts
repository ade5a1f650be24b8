/**
 * Rollup maintenance in instructions, not seconds: the bundled gateway, console on and off, each
 * under callgrind (valgrind), counts the instructions its process executes per inference request
 * over the same requests. Instruction counts do not move with the load of a shared machine, so a
 * difference of a few per cent is measurable where CPU time from /proc is not.
 *
 *   npm run bench -- --configs console --console-instructions 300
 *
 * What it counts: everything in the gateway process (V8's JIT code, GC, Node, libuv, syscalls'
 * user side) from after a warm-up to the end of the measured requests. Not PostgreSQL's work.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createPostgresDatabase } from '../test/support/db';
import { startGatewayProcess } from '../test/support/process';
import { waitFor } from '../test/support/wait';
import { openPostgres } from '../gateway-server/src/store/postgres';
import { migrate } from '../gateway-server/src/store/migrate';
import { runLoad } from './load';
import type { ConsoleLaneOptions } from './console';

export interface InstructionFigures {
  requests: number;
  onPerRequest: number;
  offPerRequest: number;
  ratio: number;
}

/** The `totals:` (or `summary:`) instruction count of one callgrind dump. */
function totalIr(file: string): number {
  const m = /^(?:totals|summary): (\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`no totals in ${file}`);
  return Number(m[1]);
}

async function side(o: ConsoleLaneOptions, enabled: boolean, n: number, dir: string): Promise<number> {
  const db = await createPostgresDatabase();
  const d = await openPostgres({ url: db.url, maxConnections: 1, connectTimeoutSeconds: 5 });
  await migrate(d);
  await d.close();
  const out = join(dir, `cg-${enabled ? 'on' : 'off'}`);
  const gw = await startGatewayProcess(o.config(db.url, enabled), {
    // Uninstrumented until the warm-up is over (fast), then counted until the one dump below.
    wrapper: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}.%p`],
    readyTimeoutMs: 600_000,
  });
  try {
    await o.prepare(gw.url);
    const load = (count: number) => runLoad({ url: gw.url, token: o.token(gw.url), stream: false, concurrency: 4, durationMs: 3_600_000, warmupMs: 0, maxRequests: count, bodyBytes: 2048 });
    await load(Math.max(50, Math.ceil(n / 2))); // JIT warm-up, not counted
    const pid = String(gw.child.pid);
    execFileSync('callgrind_control', ['--instr=on', pid], { stdio: 'ignore' });
    const r = await load(n);
    if (r.errors) throw new Error(`console instructions: ${r.errors} failed requests (${r.firstError})`);
    execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    const dump = `${out}.${pid}.1`;
    await waitFor(`callgrind's dump ${dump}`, () => (existsSync(dump) && /^totals: /m.test(readFileSync(dump, 'utf8')) ? true : undefined), { intervalMs: 200, attempts: 600 });
    return totalIr(dump) / r.requests;
  } finally {
    await gw.stop('SIGTERM');
    await db.drop().catch(() => {});
  }
}

export async function measureInstructions(o: ConsoleLaneOptions, n: number): Promise<InstructionFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-callgrind-'));
  try {
    const onPerRequest = await side(o, true, n, dir);
    const offPerRequest = await side(o, false, n, dir);
    return { requests: n, onPerRequest, offPerRequest, ratio: onPerRequest / offPerRequest };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A PostgreSQL cluster of the test's own (initdb into a temp folder, a free port), so a test can
 * stop and restart the database under load without touching the machine's shared server on
 * 5432 that other suites use. Needs PostgreSQL's server binaries (initdb, pg_ctl) on PATH; as
 * root they run as the `postgres` user (PostgreSQL refuses to run as root).
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './process';

const run = promisify(execFile);

export interface PrivatePostgres {
  port: number;
  /** URL of the `postgres` database on this cluster. */
  url: string;
  /** `pg_ctl restart -m fast`. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast` (connections are terminated, new ones refused). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** initdb/pg_ctl: on PATH, else Debian's versioned folder (newest first), where the postgresql package puts them. */
function pgBin(cmd: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', cmd))) return join(base, v, 'bin', cmd);
  return cmd; // reported as not found below, with how to install it
}

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  cmd = pgBin(cmd);
  if (process.getuid?.() !== 0) return [cmd, args];
  return ['runuser', ['-u', 'postgres', '--', cmd, ...args]];
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const [c, a] = asPostgres(cmd, args);
  try {
    const { stdout, stderr } = await run(c, a, { maxBuffer: 10 * 1024 * 1024 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT' || /runuser: failed to execute/.test(e.stderr ?? '')) throw new Error(`${cmd} not found: install PostgreSQL's server package (Debian: apt-get install postgresql; its bin folder under /usr/lib/postgresql is found without PATH)`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  const data = join(root, 'data');
  if (process.getuid?.() === 0) {
    const pgUser = statSync('/var/lib/postgresql', { throwIfNoEntry: false });
    chmodSync(root, 0o755);
    if (pgUser) chownSync(root, pgUser.uid, pgUser.gid);
    else await run('chown', ['postgres', root]);
  }
  await sh('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const logFile = join(root, 'log');
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const waitReady = async () => {
    for (;;) {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => {});
      const ok = await c.connect().then(
        () => c.query('SELECT 1').then(() => true),
        () => false,
      );
      await c.end().catch(() => {});
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const start = async () => {
    await sh('pg_ctl', ['-D', data, '-l', logFile, '-o', opts, '-w', 'start']);
    await waitReady();
  };
  await start();
  return {
    port,
    url,
    start,
    async stop() {
      await sh('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async restart() {
      await sh('pg_ctl', ['-D', data, '-l', logFile, '-o', opts, '-m', 'fast', '-w', 'restart']);
      await waitReady();
    },
    async close() {
      await sh('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}

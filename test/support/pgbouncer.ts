/**
 * A real PgBouncer (Debian's package; scripts/ci-deps.sh installs it) in front of the machine's
 * PostgreSQL, in transaction pooling mode by default: the proxy a platform team puts between many
 * gateway replicas and one database. Trust auth, every database name passed through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './process';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  port: number;
  /** `directUrl` (a database on the machine's PostgreSQL) as reached through the bouncer. */
  via(directUrl: string): string;
  close(): Promise<void>;
}

export async function startPgBouncer(opts: { poolMode?: 'transaction' | 'session'; poolSize?: number } = {}): Promise<PgBouncer> {
  if (!existsSync(PGBOUNCER)) throw new Error(`PgBouncer is not installed (${PGBOUNCER}): apt-get install pgbouncer (scripts/ci-deps.sh does)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    [
      '[databases]',
      '* = host=127.0.0.1 port=5432',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `pool_mode = ${opts.poolMode ?? 'transaction'}`,
      // Fewer server connections than one gateway's pool: clients really share them.
      `default_pool_size = ${opts.poolSize ?? 4}`,
      'max_client_conn = 1000',
      'ignore_startup_parameters = extra_float_digits,statement_timeout',
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root; -u drops to the postgres user.
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini];
  const child: ChildProcess = spawn(PGBOUNCER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const via = (directUrl: string) => directUrl.replace(/127\.0\.0\.1:5432/, `127.0.0.1:${port}`);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited at start:\n${log}`);
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    c.on('error', () => {});
    const ok = await c.connect().then(
      () => c.query('SELECT 1').then(() => true),
      () => false,
    );
    await c.end().catch(() => {});
    if (ok) break;
    if (i > 100) throw new Error(`pgbouncer did not accept connections:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    via,
    async close() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

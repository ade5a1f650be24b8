/**
 * A PostgreSQL primary and a streaming hot standby of it, both real servers on loopback in
 * folders of their own (initdb + pg_basebackup from the machine's PostgreSQL binaries), so a
 * test can send lag-tolerant reads to a real replica, pause its replay to show where reads go,
 * or stop it. The machine's own PostgreSQL on 5432 is not touched.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process';

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup'))) : [];
  const v = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!v) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (Debian package postgresql)');
  return join(root, v, 'bin');
}

export interface ReplicatedCluster {
  primaryUrl: string;
  replicaUrl: string;
  /** Stop the standby (fast shutdown), as if it failed. */
  stopReplica(): void;
  close(): void;
}

export async function startReplicatedCluster(): Promise<ReplicatedCluster> {
  const bin = binDir();
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: run its tools as the postgres user.
  const run = (tool: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : join(bin, tool), asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args, { stdio: 'pipe', timeout: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), 'pg-replicated-'));
  chmodSync(dir, 0o777);
  const primary = join(dir, 'primary');
  const replica = join(dir, 'replica');
  const [pPort, rPort] = [await freePort(), await freePort()];
  const opts = (port: number) => `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c shared_buffers=16MB`;
  run('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '--no-instructions', '-E', 'UTF8']);
  run('pg_ctl', ['-D', primary, '-o', `${opts(pPort)} -c wal_level=replica -c max_wal_senders=4`, '-l', join(dir, 'primary.log'), '-w', 'start']);
  run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(pPort), '-U', 'postgres', '-D', replica, '-R', '-X', 'stream']);
  run('pg_ctl', ['-D', replica, '-o', `${opts(rPort)} -c hot_standby=on`, '-l', join(dir, 'replica.log'), '-w', 'start']);
  let replicaUp = true;
  const stopReplica = () => {
    if (replicaUp) run('pg_ctl', ['-D', replica, '-m', 'fast', '-w', 'stop']);
    replicaUp = false;
  };
  return {
    primaryUrl: `postgres://postgres@127.0.0.1:${pPort}/postgres`,
    replicaUrl: `postgres://postgres@127.0.0.1:${rPort}/postgres`,
    stopReplica,
    close() {
      try {
        stopReplica();
      } catch {
        /* already down */
      }
      try {
        run('pg_ctl', ['-D', primary, '-m', 'fast', '-w', 'stop']);
      } catch {
        /* already down */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the real `tollgate` command as a child process: the built bundle (dist/client/tollgate.js,
 * what developers install) in end-to-end suites, the sources through tsx in integration suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLIENT_BUNDLE = resolve('dist/client/tollgate.js');
const SOURCE = resolve('client/src/main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliHome {
  /** XDG_CONFIG_HOME and HOME of the developer being simulated. */
  env: Record<string, string>;
  dir: string;
}

/** A fresh developer machine: its own HOME, config folder and CODEX_HOME; no inherited agent keys. */
export function cliHome(): CliHome {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-dev-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, '.config'),
    CODEX_HOME: join(dir, '.codex'),
  };
  return { env, dir };
}

export function commandLine(bundle: boolean): { command: string; args: string[] } {
  return bundle ? { command: process.execPath, args: [CLIENT_BUNDLE] } : { command: process.execPath, args: ['--import', 'tsx', SOURCE] };
}

export function spawnTollgate(args: string[], env: Record<string, string>, bundle = false): ChildProcess {
  const c = commandLine(bundle);
  return spawn(c.command, [...c.args, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve('.') });
}

export function runTollgate(args: string[], env: Record<string, string>, bundle = false): Promise<CliResult> {
  const child = spawnTollgate(args, env, bundle);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

/**
 * `tollgate login` with the browser leg done by `approve(url)` as soon as the command prints the
 * verification URL on stderr.
 */
export async function loginWith(gatewayUrl: string, env: Record<string, string>, approve: (url: string) => Promise<unknown>, bundle = false): Promise<CliResult> {
  const child = spawnTollgate(['login', '--gateway', gatewayUrl, '--no-browser'], env, bundle);
  let stdout = '';
  let stderr = '';
  let approving: Promise<unknown> | undefined;
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
    const url = /\(or open (\S+)\)/.exec(stderr)?.[1];
    if (url && !approving) approving = approve(url);
  });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  await approving;
  return { code, stdout, stderr };
}

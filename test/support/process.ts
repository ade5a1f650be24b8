/**
 * Runs the bundled gateway (dist/server/tollgate-gateway.js, as operators run it) as a child
 * process with a YAML config written to a temp folder. Build first (`npm run build`; npm test does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { sleep } from './mock-anthropic';

export const SERVER_BUNDLE = resolve(process.env.TOLLGATE_SERVER_BUNDLE ?? 'dist/server/tollgate-gateway.js');

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  port: number;
  configPath: string;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolvePort) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolvePort(port));
    });
  });
}

export function writeConfig(config: Record<string, unknown>, dir = mkdtempSync(join(tmpdir(), 'tollgate-cfg-'))): string {
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

/** Start the gateway with `config` (listen.port is filled in) and wait until /readyz answers (the store is open: /healthz answers before). */
export async function startGatewayProcess(
  config: Record<string, unknown>,
  opts: { env?: NodeJS.ProcessEnv; args?: string[]; nodeArgs?: string[]; readyTimeoutMs?: number; waitReady?: boolean; wrapper?: string[] } = {},
): Promise<GatewayProcess> {
  if (!existsSync(SERVER_BUNDLE)) throw new Error('dist/server/tollgate-gateway.js is missing: run `npm run build` first');
  const port = await freePort();
  const listen = { host: '127.0.0.1', ...(config.listen as object | undefined), port };
  const configPath = writeConfig({ ...config, listen });
  let out = '';
  // A wrapper (e.g. valgrind) runs node itself: same pid, so /proc figures and signals still apply.
  const argv = [process.execPath, ...(opts.nodeArgs ?? []), SERVER_BUNDLE, '--config', configPath, ...(opts.args ?? [])];
  const [cmd, ...rest] = [...(opts.wrapper ?? []), ...argv];
  const child = spawn(cmd!, rest, {
    env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  if (opts.waitReady !== false) {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    let done = false;
    void exited.then(() => (done = true));
    for (;;) {
      if (done) throw new Error(`gateway exited before becoming ready:\n${out}`);
      try {
        const r = await fetch(`${url}/readyz`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`gateway not ready after ${opts.readyTimeoutMs ?? 60_000} ms:\n${out}`);
      }
      await sleep(100);
    }
  }
  return {
    child,
    url,
    port,
    configPath,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

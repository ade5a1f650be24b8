/**
 * Runs the real Claude Code CLI (`@anthropic-ai/claude-code`, its native binary) headless
 * against a gateway, in gateway mode: CLAUDE_CODE_USE_GATEWAY=1 + ANTHROPIC_BASE_URL +
 * ANTHROPIC_AUTH_TOKEN=<session JWT>. HOME and CLAUDE_CONFIG_DIR point at a temp folder so the
 * machine's own settings never leak in.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLAUDE_BIN = resolve('node_modules/.bin/claude');

export interface ClaudeRun {
  home: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runClaude(opts: {
  baseUrl: string;
  token: string;
  prompt: string;
  model?: string;
  /** true (default): gateway mode; false: plain base-URL mode. */
  gatewayMode?: boolean;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Reuse a HOME from an earlier run (its cached remote settings, for instance); default a fresh one. */
  home?: string;
  /**
   * A folder to appear as /etc/claude-code for this process only (a private mount namespace,
   * `unshare -m`, needs root): machine-level managed settings without touching the machine's
   * settings. The mount point is created empty if absent; the caller removes it afterwards.
   */
  managedSettingsDir?: string;
}): Promise<ClaudeRun> {
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'claude-home-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_AUTH_TOKEN: opts.token,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ...(opts.gatewayMode === false ? {} : { CLAUDE_CODE_USE_GATEWAY: '1' }),
    ...opts.env,
  };
  const args = ['-p', opts.prompt, '--model', opts.model ?? 'claude-sonnet-4-6', ...(opts.extraArgs ?? [])];
  return new Promise((resolvePromise) => {
    const child = opts.managedSettingsDir
      ? spawn(
          'unshare',
          ['-m', 'sh', '-c', 'mkdir -p /etc/claude-code 2>/dev/null; mount --bind "$0" /etc/claude-code && exec "$@"', opts.managedSettingsDir, CLAUDE_BIN, ...args],
          { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] },
        )
      : spawn(CLAUDE_BIN, args, { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ home, code, stdout, stderr });
    });
  });
}

/**
 * Runs the real OpenAI Codex CLI (`@openai/codex` 0.171.0 and its native binary from the
 * optional package `@openai/codex-<platform>`) non-interactively: `codex exec` with CODEX_HOME
 * and HOME in a temp folder so the machine's own configuration never leaks in, no stdin, and
 * the variables that would route it elsewhere removed (codex-client.md).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const CODEX_VERSION = '0.171.0';

const TRIPLES: Record<string, string> = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
};

/** The launcher script; throws a sentence saying how to install when the package or its native binary is missing. */
export function codexLauncher(): string {
  const require = createRequire(import.meta.url);
  const how = `Install it with \`npm ci\` (devDependency @openai/codex@${CODEX_VERSION}; its native binary comes from the optional dependency @openai/codex-${process.platform}-${process.arch}, so do not install with --omit=optional).`;
  let launcher: string;
  try {
    launcher = require.resolve('@openai/codex/bin/codex.js');
  } catch {
    throw new Error(`The Codex CLI is not installed. ${how}`);
  }
  const platform = `${process.platform}-${process.arch}`;
  const triple = TRIPLES[platform];
  if (!triple) throw new Error(`The Codex CLI tests need a platform Codex ships a binary for (${Object.keys(TRIPLES).join(', ')}); this is ${platform}.`);
  let nativeDir: string;
  try {
    nativeDir = dirname(require.resolve(`@openai/codex-${platform}/package.json`));
  } catch {
    throw new Error(`The Codex CLI's native binary is missing. ${how}`);
  }
  if (!existsSync(join(nativeDir, 'vendor', triple, 'bin', 'codex'))) throw new Error(`The Codex CLI's native binary is missing from ${nativeDir}. ${how}`);
  return launcher;
}

export interface CodexRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCodex(opts: {
  codexHome: string;
  prompt: string;
  model: string;
  profile?: string;
  /** Sandbox for the commands the model asks to run; default read-only. */
  sandbox?: 'read-only' | 'workspace-write' | 'danger-full-access';
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  extraArgs?: string[];
  timeoutMs?: number;
}): Promise<CodexRun> {
  const launcher = codexLauncher();
  const home = mkdtempSync(join(tmpdir(), 'codex-user-home-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, CODEX_HOME: opts.codexHome, RUST_LOG: 'error', NO_COLOR: '1', ...opts.env };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'CODEX_API_KEY']) if (!opts.env?.[k]) delete env[k];
  const args = [launcher, 'exec', '--json', '--skip-git-repo-check', '-s', opts.sandbox ?? 'read-only', '-m', opts.model, ...(opts.profile ? ['--profile', opts.profile] : []), ...(opts.extraArgs ?? []), '--', opts.prompt];
  return new Promise<CodexRun>((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd: opts.cwd ?? home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start the Codex CLI (${launcher}): ${err.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

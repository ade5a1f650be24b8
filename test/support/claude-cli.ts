/**
 * Runs the real Claude Code CLI (`@anthropic-ai/claude-code`, its native binary) headless
 * against a gateway, in gateway mode: CLAUDE_CODE_USE_GATEWAY=1 + ANTHROPIC_BASE_URL +
 * ANTHROPIC_AUTH_TOKEN=<session JWT>. HOME and CLAUDE_CONFIG_DIR point at a temp folder so the
 * machine's own settings never leak in.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
  /** Working folder (default: the HOME); a repository's `.claude/settings.local.json` applies there. */
  cwd?: string;
  /** Reuse a HOME from an earlier run (its cached remote settings, for instance); default a fresh one. */
  home?: string;
  /**
   * A folder to appear as /etc/claude-code for this process only: machine-level managed settings
   * without touching the machine's. Works without root: a user and mount namespace
   * (`unshare --user --map-root-user --mount`) lays a throw-away overlay over /etc, creates the
   * mount point there and binds the folder onto it. Where namespaces are not allowed the run
   * fails with a sentence saying what to enable.
   */
  managedSettingsDir?: string;
}): Promise<ClaudeRun> {
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'claude-home-'));
  const claudeTmp = join(home, 'tmp');
  mkdirSync(claudeTmp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    // Its own temp folder too: the shared /tmp/claude-<uid> may belong to another user (or, in a
    // user namespace, to the real root) and Claude Code refuses it then.
    CLAUDE_CODE_TMPDIR: claudeTmp,
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_AUTH_TOKEN: opts.token,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ...(opts.gatewayMode === false ? {} : { CLAUDE_CODE_USE_GATEWAY: '1' }),
    ...opts.env,
  };
  const args = ['-p', opts.prompt, '--model', opts.model ?? 'claude-sonnet-4-6', ...(opts.extraArgs ?? [])];
  // The overlay's upper and work folders live on a tmpfs mounted (inside the namespace) on this
  // scratch folder, so nothing is written outside it and it is empty again after the run.
  const scratch = opts.managedSettingsDir ? mkdtempSync(join(tmpdir(), 'claude-etc-')) : undefined;
  return new Promise<ClaudeRun>((resolvePromise, reject) => {
    const child = opts.managedSettingsDir
      ? spawn('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', PRIVATE_ETC_SCRIPT, 'private-etc', opts.managedSettingsDir, scratch!, CLAUDE_BIN, ...args], {
          env,
          cwd: opts.cwd ?? home,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(CLAUDE_BIN, args, { env, cwd: opts.cwd ?? home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${opts.managedSettingsDir ? 'unshare (util-linux)' : CLAUDE_BIN}: ${err.message}. ${opts.managedSettingsDir ? 'Install util-linux.' : 'Run npm ci.'}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      // unshare's own complaint (namespaces not allowed) or the script's (a mount refused).
      if (opts.managedSettingsDir && ((code === NAMESPACE_FAILED && stderr.includes(NAMESPACE_MARKER)) || /^unshare: /m.test(stderr))) {
        reject(
          new Error(
            `Claude Code's machine-level managed settings need a private /etc/claude-code, made here with a user and mount namespace (unshare --user --map-root-user --mount) and an overlay on /etc, which this machine refused: ${stderr.trim()}. Allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0, and kernel.unprivileged_userns_clone=1 where that exists) or run the tests as root.`,
          ),
        );
        return;
      }
      resolvePromise({ home, code, stdout, stderr });
    });
  }).finally(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });
}

const NAMESPACE_FAILED = 97;
const NAMESPACE_MARKER = 'tollgate: no private /etc';
/** $1 the managed-settings folder, $2 the scratch folder, then the command. */
const PRIVATE_ETC_SCRIPT = [
  'dir="$1"; scratch="$2"; shift 2',
  'fail() { echo "tollgate: no private /etc ($1)" >&2; exit 97; }',
  'mount -t tmpfs tollgate-etc "$scratch" || fail "tmpfs"',
  'mkdir "$scratch/upper" "$scratch/work" || fail "mkdir"',
  'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/work" /etc || fail "overlay on /etc"',
  'mkdir -p /etc/claude-code || fail "mkdir /etc/claude-code"',
  'mount --bind "$dir" /etc/claude-code || fail "bind mount"',
  'exec "$@"',
].join('\n');

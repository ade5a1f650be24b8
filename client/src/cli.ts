/**
 * The `tollgate` command for developers' machines: sign in to a Tollgate gateway with the device
 * grant, hand agents a fresh bearer (Codex's auth command, Claude Code's apiKeyHelper), and
 * write their configuration. Messages go to stderr; only `token` and `status` write stdout.
 *
 * Exit codes: 0 done, 1 failed, 2 usage error, 3 a sign-in is needed.
 */
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { codexHome, configDir, credentialsFile, normaliseGatewayUrl, type PathEnv } from './core/paths';
import { freshToken, login, logout, TokenError } from './core/session';
import { readSession } from './core/credentials';
import { selfCommand, setupClaude, setupCodex } from './setup';
import { readDefaultGateway, writeDefaultGateway } from './defaults';

const USAGE = `Usage: tollgate <command> [--gateway URL]

  login --gateway URL   sign in (device code in the browser); remembers URL as the default gateway
  token                 print a fresh access token on stdout (Codex auth command, Claude Code apiKeyHelper)
  status                who is signed in, where, and until when
  logout                sign out and revoke the session
  setup codex           write a Codex provider + profile into $CODEX_HOME/config.toml (~/.codex)
        [--name tollgate] [--model M] [--no-default] [--requirements-file PATH]
  setup claude          point Claude Code (~/.claude/settings.json) at the gateway with apiKeyHelper

The gateway comes from --gateway, else TOLLGATE_GATEWAY, else the last one you signed in to.`;

class UsageError extends Error {}

const say = (line: string) => process.stderr.write(line + '\n');

function openBrowser(url: string, env: NodeJS.ProcessEnv): void {
  const [cmd, args] =
    env.BROWSER ? [env.BROWSER, [url]]
    : process.platform === 'darwin' ? ['open', [url]]
    : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]]
    : env.DISPLAY || env.WAYLAND_DISPLAY ? ['xdg-open', [url]]
    : [undefined, []];
  if (!cmd) return;
  try {
    const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => {}); // no browser: the printed URL is enough
    child.unref();
  } catch {
    // same
  }
}

async function gatewayFrom(flag: string | undefined, paths: PathEnv): Promise<string> {
  const raw = flag ?? paths.env.TOLLGATE_GATEWAY ?? (await readDefaultGateway(configDir(paths)));
  if (!raw) throw new UsageError('No gateway given: pass --gateway https://your-gateway (or sign in once with `tollgate login --gateway URL`).');
  return normaliseGatewayUrl(raw);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      gateway: { type: 'string' },
      'no-browser': { type: 'boolean' },
      name: { type: 'string' },
      model: { type: 'string' },
      'no-default': { type: 'boolean' },
      'requirements-file': { type: 'string' },
      'settings-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE + '\n');
    return command || values.help ? 0 : 2;
  }
  const paths: PathEnv = { env, platform: process.platform, home: homedir() };
  const gatewayUrl = await gatewayFrom(values.gateway, paths);
  const dir = configDir(paths);
  const d = { gatewayUrl, file: credentialsFile(dir, gatewayUrl) };
  switch (command) {
    case 'login': {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      const s = await login({
        ...d,
        signal: ac.signal,
        onCode: (start) => {
          say(`To sign in to ${gatewayUrl}, open ${start.verification_uri} and enter the code ${start.user_code}`);
          if (start.verification_uri_complete) say(`(or open ${start.verification_uri_complete})`);
          if (start.login_notice) say(start.login_notice);
          say('Waiting for you to approve in the browser… (Ctrl-C cancels)');
          if (!values['no-browser']) openBrowser(start.verification_uri_complete ?? start.verification_uri, env);
        },
      });
      await writeDefaultGateway(dir, gatewayUrl);
      say(`Signed in to ${gatewayUrl} as ${s.account.label}.`);
      return 0;
    }
    case 'token':
      process.stdout.write((await freshToken(d)) + '\n');
      return 0;
    case 'logout': {
      const r = await logout(d);
      say(!r.wasSignedIn ? `Not signed in to ${gatewayUrl}.` : r.revoked ? `Signed out of ${gatewayUrl}; the session is revoked.` : `Signed out of ${gatewayUrl} on this machine (the gateway could not be told; the session ends when it expires).`);
      return 0;
    }
    case 'status': {
      const s = await readSession(d.file);
      if (!s) {
        process.stdout.write(`Not signed in to ${gatewayUrl}.\n`);
        return 3;
      }
      process.stdout.write(`Signed in to ${gatewayUrl} as ${s.account.label}${s.account.groups.length ? ` (groups: ${s.account.groups.join(', ')})` : ''}.\n`);
      process.stdout.write(`Access token valid until ${new Date(s.expiresAt).toISOString()}; ${s.refreshToken ? 'renewed automatically' : 'sign in again after that'}.\n`);
      return 0;
    }
    case 'setup': {
      const self = selfCommand(env);
      if (sub === 'codex') {
        const notes = await setupCodex({
          gatewayUrl,
          codexHome: codexHome(paths),
          token: await freshToken(d),
          self,
          name: values.name ?? 'tollgate',
          makeDefault: !values['no-default'],
          ...(values.model ? { model: values.model } : {}),
          ...(values['requirements-file'] ? { requirementsFile: values['requirements-file'] } : {}),
        });
        notes.forEach(say);
        return 0;
      }
      if (sub === 'claude') {
        (await setupClaude({ gatewayUrl, self, settingsFile: values['settings-file'] ?? join(paths.home, '.claude', 'settings.json') })).forEach(say);
        return 0;
      }
      throw new UsageError('Say which agent to set up: `tollgate setup codex` or `tollgate setup claude`.');
    }
    default:
      throw new UsageError(`Unknown command "${command}".\n${USAGE}`);
  }
}

export async function run(): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode = err instanceof TokenError && err.code !== 'UNREACHABLE' ? 3 : err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  }
}

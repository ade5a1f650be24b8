/**
 * Anthropic's own gateway (`claude gateway`, the native binary of the `@anthropic-ai/claude-code`
 * devDependency) as a bench target, so the same run measures both gateways against the same mock
 * and the same PostgreSQL. Two configurations, mirroring ours:
 *
 *   official-bare     no `admin:` block, no policies: bearer check and proxying (writes nothing)
 *   official          `managed.policies` with the same allow-list and an `admin:` block with a
 *                     cap on the bench user: every request metered (cap read before, spend
 *                     upserted after; it does not reserve, so concurrent requests can overshoot)
 *
 * Its sessions are HS256 JWTs checked locally against `session.jwt_secret` (gateway-protocol.md
 * §7.1), in the same format as ours, so the bench mints one instead of driving a sign-in.
 * The IdP (our test IdP, oidc-provider on loopback) is only needed for its boot-time discovery.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestIdp, TEST_CLIENT_ID, TEST_CLIENT_SECRET } from '../test/support/test-idp';
import { freePort } from '../test/support/process';
import { SessionTokens } from '../gateway-server/src/auth/session-token';

export const OFFICIAL_BINARY = resolve('node_modules/@anthropic-ai/claude-code-linux-x64/claude');

export interface OfficialGateway {
  url: string;
  pid: number;
  child: ChildProcess;
  token: string;
  version: string;
  stop(): Promise<void>;
}

export interface OfficialOptions {
  kind: 'official' | 'official-bare';
  mockUrl: string;
  pgUrl: string;
  jwtSecret: string;
  adminKey: string;
  user: { sub: string; email: string; groups: string[] };
  availableModels: string[];
  /** Top-level blocks that replace the bench's own (tests that compare other routes with ours). */
  configOverrides?: Record<string, unknown>;
}

function officialConfig(o: OfficialOptions, port: number, issuer: string): Record<string, unknown> {
  const url = `http://127.0.0.1:${port}`;
  const base: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port, public_url: url },
    oidc: { issuer, client_id: TEST_CLIENT_ID, client_secret: TEST_CLIENT_SECRET },
    session: { jwt_secret: o.jwtSecret },
    store: { postgres_url: o.pgUrl, max_connections: 20 },
    upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: o.mockUrl, auth: { api_key: 'sk-bench-upstream' } }],
  };
  if (o.kind === 'official-bare') return { ...base, ...o.configOverrides };
  return {
    ...base,
    managed: { policies: [{ match: {}, cli: { availableModels: o.availableModels } }] },
    admin: { write_keys: [{ id: 'bench', key: o.adminKey }] },
    ...o.configOverrides,
  };
}

/**
 * A session the official gateway accepts: its JWTs are the shape ours are (HS256, `kid` = first
 * 16 hex of SHA-256(secret), `aud: claude-gateway`; gateway-protocol.md §7.1), so our own
 * SessionTokens mints them, and every bench run shows the two formats interoperate.
 */
export function officialSessionToken(secret: string, issuer: string, user: OfficialOptions['user'], ttlSeconds = 24 * 3600): string {
  return new SessionTokens([secret], issuer, ttlSeconds).mint({ sub: user.sub, email: user.email, name: user.sub, groups: [...user.groups] }).token;
}

export async function startOfficialGateway(o: OfficialOptions): Promise<OfficialGateway> {
  if (!existsSync(OFFICIAL_BINARY)) {
    throw new Error(`the official gateway's binary is not installed (${OFFICIAL_BINARY}); run npm ci, or leave official* out of --configs`);
  }
  const version = execFileSync(OFFICIAL_BINARY, ['--version'], { encoding: 'utf8' }).trim();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({ redirectUris: [`${url}/oauth/callback`] });
  const dir = mkdtempSync(join(tmpdir(), 'official-gw-'));
  const configPath = join(dir, 'gateway.yaml');
  // JSON is YAML; the official gateway's strict schema rejects unknown keys, so this is also a check of the config above.
  writeFileSync(configPath, JSON.stringify(officialConfig(o, port, idp.issuer), null, 2));
  const logPath = join(dir, 'gateway.log');
  const log = openSync(logPath, 'w');
  // Its audit line per request goes to stderr, as in production; a file keeps that cost without a pipe to drain.
  const child = spawn(OFFICIAL_BINARY, ['gateway', '--config', configPath], {
    stdio: ['ignore', log, log],
    env: { ...process.env, CLAUDE_CONFIG_DIR: join(dir, 'claude'), CLAUDE_GATEWAY_ALLOW_LOOPBACK: '1' },
  });
  closeSync(log);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the official gateway exited with ${child.exitCode} at boot:\n${readFileSync(logPath, 'utf8')}`);
    const ready = await fetch(`${url}/.well-known/oauth-authorization-server`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the official gateway did not become ready in 30 s:\n${readFileSync(logPath, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    child,
    token: officialSessionToken(o.jwtSecret, url, o.user),
    version,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      await idp.close();
      if (code !== 0) process.stderr.write(`official gateway exited with ${code}:\n${readFileSync(logPath, 'utf8').slice(-4000)}\n`);
      // Its log holds a line per request (tens of MB over a full run).
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

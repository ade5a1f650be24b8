/**
 * The starter configuration `npm start` runs: loopback only, embedded store in ./.tollgate,
 * a generated session secret kept in ./.tollgate/starter-secret (mode 600), and the Anthropic
 * API when ANTHROPIC_API_KEY is set, otherwise the built-in simulated model. Sign-in goes
 * through the built-in development OpenID provider (dev_idp), which the identity feature starts
 * on a loopback port chosen here, so the oidc block can name its issuer before anything runs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Starter {
  raw: Record<string, unknown>;
  banner(url: string): void;
}

export async function starterConfig(env: NodeJS.ProcessEnv): Promise<Starter> {
  const home = env.TOLLGATE_HOME ?? '.tollgate';
  mkdirSync(home, { recursive: true });
  const secretFile = join(home, 'starter-secret');
  if (!existsSync(secretFile)) writeFileSync(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const secret = readFileSync(secretFile, 'utf8').trim();
  const simulated = !env.ANTHROPIC_API_KEY;
  const port = Number(env.PORT ?? 8080);
  const idpPort = env.TOLLGATE_DEV_IDP_PORT ? Number(env.TOLLGATE_DEV_IDP_PORT) : await freeLoopbackPort();
  const idpIssuer = `http://127.0.0.1:${idpPort}`;
  const starterKey = createHash('sha256').update(`starter-admin\0${secret}`).digest('hex');
  const raw: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port },
    session: { jwt_secret: secret, ttl_hours: 1 },
    store: { data_dir: join(home, 'data') },
    upstreams: simulated
      ? [{ name: 'simulated', provider: 'simulated' }]
      : [{ name: 'anthropic', provider: 'anthropic', auth: { api_key: '${ANTHROPIC_API_KEY}' } }],
    oidc: {
      issuer: idpIssuer,
      client_id: 'tollgate-dev',
      client_secret: createHash('sha256').update(`dev-idp\0${secret}`).digest('hex'),
      allow_insecure_issuer: true,
      // The development IdP (like Google) issues refresh tokens only with prompt=consent.
      extra_auth_params: { prompt: 'consent' },
    },
    dev_idp: { enabled: true, port: idpPort },
    // The console (/console): alice (group engineering) is an admin; bob (contractors) sees the 403 page.
    admin: { admin_groups: ['engineering'], write_keys: [{ id: 'starter', key: starterKey }] },
    console: { enabled: true },
    managed: {
      policies: [
        {
          name: 'engineering',
          match: { groups: ['engineering'] },
          cli: { availableModels: ['opus', 'claude-sonnet-4-6'], permissions: { deny: ['WebFetch'] }, env: { TEAM: 'eng' } },
        },
        {
          name: 'everyone',
          match: {},
          cli: { availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'], enforceAvailableModels: true, permissions: { deny: ['Read(./.env)'] } },
        },
      ],
    },
  };
  return {
    raw,
    banner(url: string) {
      void seedStarterCap(url, starterKey);
      const lines = [
        '',
        `  Tollgate gateway (starter configuration) is serving ${url}`,
        `  Store:    embedded PostgreSQL in ${join(home, 'data')}`,
        simulated
          ? '  Upstream: SIMULATED MODEL (no ANTHROPIC_API_KEY set): replies are canned, not from Claude'
          : '  Upstream: the Anthropic API (ANTHROPIC_API_KEY)',
        `  Health:   ${url}/healthz`,
        `  Console:  ${url}/console  (sign in as alice: an admin; a $20 daily cap on group engineering; spend metered per request)`,
        `  Sign-in:  DEVELOPMENT-ONLY identity provider on ${idpIssuer}: log in as alice (engineering) or bob (contractors), any password`,
        `            Claude Code: put {"forceLoginMethod":"gateway","forceLoginGatewayUrl":"${url}"} in managed settings, then /login`,
        '',
      ];
      process.stderr.write(lines.join('\n') + '\n');
    },
  };
}

/**
 * The starter's example cap ($20 a day for group engineering), created through the Admin API once
 * the gateway listens, unless a cap already exists (a restart keeps what the admin changed).
 */
async function seedStarterCap(url: string, key: string): Promise<void> {
  const headers = { 'x-api-key': key, 'content-type': 'application/json' };
  try {
    const list = (await (await fetch(`${url}/v1/organizations/spend_limits?limit=1`, { headers })).json()) as { data?: unknown[] };
    if (list.data?.length) return;
    await fetch(`${url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ scope: { type: 'rbac_group', rbac_group_id: 'engineering' }, amount: '2000', currency: 'USD', period: 'daily' }),
    });
  } catch (err) {
    process.stderr.write(`  (could not create the example cap: ${(err as Error).message})\n`);
  }
}

/** A free loopback port for the development IdP (TOLLGATE_DEV_IDP_PORT pins one). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(p));
    });
  });
}

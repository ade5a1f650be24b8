/**
 * The starter configuration `npm start` runs: loopback only, embedded store in ./.tollgate,
 * a generated session secret kept in ./.tollgate/starter-secret (mode 600), and the Anthropic
 * API when ANTHROPIC_API_KEY is set, otherwise the built-in simulated model.
 */
import { randomBytes } from 'node:crypto';
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
  const raw: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port },
    session: { jwt_secret: secret, ttl_hours: 1 },
    store: { data_dir: join(home, 'data') },
    upstreams: simulated
      ? [{ name: 'simulated', provider: 'simulated' }]
      : [{ name: 'anthropic', provider: 'anthropic', auth: { api_key: '${ANTHROPIC_API_KEY}' } }],
    dev_idp: { enabled: true, port: 0 },
  };
  return {
    raw,
    banner(url: string) {
      const lines = [
        '',
        `  Tollgate gateway (starter configuration) is serving ${url}`,
        `  Store:    embedded PostgreSQL in ${join(home, 'data')}`,
        simulated
          ? '  Upstream: SIMULATED MODEL (no ANTHROPIC_API_KEY set): replies are canned, not from Claude'
          : '  Upstream: the Anthropic API (ANTHROPIC_API_KEY)',
        `  Health:   ${url}/healthz`,
        '',
      ];
      process.stderr.write(lines.join('\n') + '\n');
    },
  };
}

/**
 * build()-style helpers: a real gateway (buildApp + listen on loopback) over a test database
 * and loopback upstreams, plus a token minted with the session secret.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type AppDeps } from '../../gateway-server/src/app';
import { resolveConfig, withPublicUrl, type Config } from '../../gateway-server/src/config/load';
import type { GatewayConfigInput } from '../../gateway-server/src/config/schema';
import type { Db } from '../../gateway-server/src/store/db';
import type { MintInput } from '../../gateway-server/src/auth/session-token';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export function testConfig(overrides: Partial<GatewayConfigInput> & Record<string, unknown> = {}): Config {
  const raw = {
    listen: { host: '127.0.0.1', port: 0 },
    session: { jwt_secret: TEST_JWT_SECRET },
    upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: 'http://127.0.0.1:9', auth: { api_key: 'sk-upstream-test' } }],
    ...overrides,
  };
  return resolveConfig(raw, {});
}

export interface TestGateway {
  app: FastifyInstance;
  url: string;
  config: Config;
  mint(input?: Partial<MintInput>): string;
  close(): Promise<void>;
}

/**
 * Listen first on an OS-chosen port, then build the app with the real public URL, so issuer
 * and endpoint URLs are right.
 */
export async function startTestGateway(opts: { config: Config; db: Db } & Partial<AppDeps>): Promise<TestGateway> {
  const probe = await import('node:net').then(
    (net) =>
      new Promise<number>((resolve) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
          const port = (s.address() as AddressInfo).port;
          s.close(() => resolve(port));
        });
      }),
  );
  const config = opts.config.listen.public_url ? opts.config : withPublicUrl(opts.config, `http://127.0.0.1:${probe}`);
  const app = await buildApp({ ...opts, config });
  await app.listen({ host: '127.0.0.1', port: probe });
  const url = `http://127.0.0.1:${probe}`;
  return {
    app,
    url,
    config,
    mint: (input = {}) => app.gateway.tokens.mint({ sub: 'user-1', email: 'dev@example.com', groups: ['engineering'], ...input }).token,
    async close() {
      await app.close();
      for (const u of app.gateway.upstreams) await u.close().catch(() => {});
    },
  };
}

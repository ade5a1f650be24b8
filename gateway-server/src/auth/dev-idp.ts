/**
 * An in-process OpenID provider (oidc-provider, devInteractions) on loopback: the development
 * IdP behind `npm start`, and the real IdP the tests sign in against. It accepts any password,
 * so it refuses every address but loopback and labels itself development-only everywhere.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

export interface IdpUser {
  /** What one types on the login page; also the OIDC `sub`. */
  login: string;
  email: string;
  name: string;
  groups: string[];
  email_verified?: boolean;
}

export const DEMO_USERS: IdpUser[] = [
  { login: 'alice', email: 'alice@example.com', name: 'Alice Example', groups: ['engineering'] },
  { login: 'bob', email: 'bob@example.com', name: 'Bob Example', groups: ['contractors'] },
];

export interface DevIdpOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  users?: IdpUser[];
  /** Put email/groups in the id_token (default). False: only userinfo has them (tests userinfo_fallback). */
  claimsInIdToken?: boolean;
  /** Seconds an id_token stays valid (default 3600). */
  idTokenTtlSeconds?: number;
  log?: (line: string) => void;
  /** Register the client for private_key_jwt with these public keys instead of a secret. */
  clientJwks?: { keys: Record<string, unknown>[] };
  /** Serve HTTPS with this key pair (tests of an IdP behind a private CA); the issuer is then https://. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Sign id_tokens with this private JWK (tests that forge tokens with the IdP's own key); default a fresh RS256 key. */
  signingJwk?: Record<string, unknown>;
}

export interface DevIdp {
  issuer: string;
  port: number;
  users: Map<string, IdpUser>;
  /** false: every connection is dropped, as if the IdP were down. */
  setAvailable(up: boolean): void;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
export const isLoopback = (host: string) => LOOPBACK.has(host.replace(/^\[|\]$/g, '')) || host.startsWith('127.');

const BANNER =
  '<div style="background:#b00020;color:#fff;padding:10px;font:600 14px system-ui;text-align:center">' +
  'DEVELOPMENT IDENTITY PROVIDER: any password works. Never use it in production. Demo users: __USERS__</div>';

export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new Error(`the development identity provider only binds loopback, not ${host}`);
  const users = new Map((opts.users ?? DEMO_USERS).map((u) => [u.login, { ...u, groups: [...u.groups] }]));
  let available = true;
  // Loaded on demand: production gateways never load (or print warnings from) the development IdP.
  const { default: Provider } = await import('oidc-provider');
  let provider: InstanceType<typeof Provider> | undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (!available || !provider) {
      req.socket.destroy();
      return;
    }
    provider.callback()(req, res);
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const jwk = opts.signingJwk ?? { ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey)), kid: 'dev-1', alg: 'RS256', use: 'sig' };
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        ...(opts.clientJwks
          ? { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256', jwks: opts.clientJwks }
          : { client_secret: opts.clientSecret }),
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    conformIdTokenClaims: opts.claimsInIdToken === false,
    features: { devInteractions: { enabled: true } },
    ttl: {
      IdToken: opts.idTokenTtlSeconds ?? 3600,
      AccessToken: 600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    async findAccount(_ctx: unknown, sub: string) {
      const u = users.get(sub);
      if (!u) return undefined;
      return {
        accountId: sub,
        async claims() {
          const cur = users.get(sub) ?? u;
          return { sub, email: cur.email, email_verified: cur.email_verified ?? true, name: cur.name, groups: [...cur.groups] };
        },
      };
    },
  });
  provider.proxy = false;
  // Label every HTML page (login, consent, errors) as development-only.
  provider.use(async (ctx, next) => {
    await next();
    if (typeof ctx.body === 'string' && String(ctx.type).includes('html')) {
      const list = [...users.values()].map((u) => `${u.login} (${u.groups.join(', ')})`).join(', ');
      ctx.body = ctx.body.replace(/<body([^>]*)>/, (m) => `${m}${BANNER.replace('__USERS__', list.replace(/[<>&"]/g, ''))}`);
    }
  });
  opts.log?.(`DEVELOPMENT-ONLY identity provider on ${issuer} (any password works; users: ${[...users.keys()].join(', ')}). Never use it in production.`);
  return {
    issuer,
    port,
    users,
    setAvailable(up) {
      available = up;
      if (!up) server.closeAllConnections();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

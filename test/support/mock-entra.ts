/**
 * A loopback Microsoft Entra ID authority over HTTPS (a throw-away test CA, test-ca.ts) speaking
 * what MSAL's client-credentials flow needs: OpenID discovery at
 * `/{tenant}/v2.0/.well-known/openid-configuration` and the token endpoint
 * `/{tenant}/oauth2/v2.0/token` (grant_type=client_credentials with client_secret, or with a
 * certificate's client_assertion, which is verified against the certificate). It issues RS256
 * JWTs shaped like Entra's v1 access tokens for Azure OpenAI, with a configurable `expires_in`.
 *
 * `verifyAccessToken` is the independent oracle the mock Azure OpenAI resource uses: node:crypto
 * over the JWT's bytes against this authority's public key, plus aud, tid, appid and exp. It
 * shares nothing with @azure/identity, which obtained the token.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, X509Certificate, constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { makeTestCertificates } from './test-ca';

export const AZURE_OPENAI_AUDIENCE = 'https://cognitiveservices.azure.com';
const SCOPE = `${AZURE_OPENAI_AUDIENCE}/.default`;

export interface TokenRequest {
  tenant: string;
  clientId: string;
  grantType: string;
  scope: string;
  /** 'secret' | 'assertion' | 'none', and whether it matched what the app registration holds. */
  credential: 'secret' | 'assertion' | 'none';
  credentialOk: boolean;
  /** The `jti` of the token issued, when one was. */
  issued?: string;
}

export interface MockEntra {
  /** https://127.0.0.1:<port> (authority_host). */
  url: string;
  port: number;
  /** PEM of the test CA: give it to the gateway as NODE_EXTRA_CA_CERTS. */
  caPath: string;
  tenant: string;
  clientId: string;
  discoveries: number;
  tokenRequests: TokenRequest[];
  /** `expires_in` of the next tokens (seconds). */
  expiresIn: number;
  /** Accept token requests and never answer them (a hung authority). */
  hang: boolean;
  verifyAccessToken(authorization: string | undefined): { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };
  /** Stop listening (connections refused) / listen again on the same port; both idempotent. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signed: Buffer; signature: Buffer } | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')),
      payload: JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')),
      signed: Buffer.from(`${parts[0]}.${parts[1]}`),
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/** An MSAL client assertion: RS256 or PS256 by the certificate's key, x5t / x5t#S256 naming it, aud = the token endpoint. */
function assertionOk(jwt: string, certPem: string, clientId: string, tokenEndpoint: string): boolean {
  const d = decodeJwt(jwt);
  if (!d) return false;
  const cert = new X509Certificate(certPem);
  const der = cert.raw;
  const x5t = b64url(createHash('sha1').update(der).digest());
  const x5t256 = b64url(createHash('sha256').update(der).digest());
  if (d.header.x5t !== x5t && d.header['x5t#S256'] !== x5t256) return false;
  const key = cert.publicKey;
  const sigOk =
    d.header.alg === 'PS256'
      ? verify('sha256', d.signed, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, d.signature)
      : d.header.alg === 'RS256' && verify('sha256', d.signed, key, d.signature);
  const now = Math.floor(Date.now() / 1000);
  return sigOk && d.payload.iss === clientId && d.payload.sub === clientId && d.payload.aud === tokenEndpoint && Number(d.payload.exp) > now;
}

export async function startMockEntra(opts: {
  tenant?: string;
  clientId?: string;
  /** The app registration's secret; absent when it only holds a certificate. */
  clientSecret?: string;
  /** PEM of the certificate registered for the app (certificate credential). */
  certificatePath?: string;
  expiresIn?: number;
} = {}): Promise<MockEntra> {
  const tenant = opts.tenant ?? '7d1f0b3e-0c8a-4f7e-9a51-3f2f4c1d9e01';
  const clientId = opts.clientId ?? '3b9e2c41-6d5a-4b8e-8f0e-2a7c5d1e4f62';
  const { caPath, key, cert } = makeTestCertificates({ ip: ['127.0.0.1'] });
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const certPem = opts.certificatePath ? readFileSync(opts.certificatePath, 'utf8') : undefined;
  let base = '';

  const state = { discoveries: 0, tokenRequests: [] as TokenRequest[], expiresIn: opts.expiresIn ?? 3600, hang: false };

  function json(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  }

  function issue(): { token: string; jti: string } {
    const now = Math.floor(Date.now() / 1000);
    const jti = randomUUID();
    const header = { typ: 'JWT', alg: 'RS256', kid };
    const payload = {
      aud: AZURE_OPENAI_AUDIENCE,
      iss: `https://sts.windows.net/${tenant}/`,
      iat: now,
      nbf: now,
      exp: now + state.expiresIn,
      appid: clientId,
      idtyp: 'app',
      oid: '0f5a2d1c-8e3b-4c7a-9d6e-1b2c3d4e5f60',
      roles: ['Cognitive Services OpenAI User'],
      tid: tenant,
      jti,
      ver: '1.0',
    };
    const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    return { token: `${signed}.${b64url(sign('sha256', Buffer.from(signed), signing.privateKey))}`, jti };
  }

  function token(req: IncomingMessage, res: ServerResponse, form: URLSearchParams, t: string) {
    const tokenEndpoint = `${base}/${t}/oauth2/v2.0/token`;
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    const credential: TokenRequest['credential'] = secret !== null ? 'secret' : assertion !== null ? 'assertion' : 'none';
    const credentialOk =
      credential === 'secret'
        ? opts.clientSecret !== undefined && secret === opts.clientSecret
        : credential === 'assertion'
          ? !!certPem && form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' && assertionOk(assertion!, certPem, clientId, tokenEndpoint)
          : false;
    const record: TokenRequest = { tenant: t, clientId: form.get('client_id') ?? '', grantType: form.get('grant_type') ?? '', scope: form.get('scope') ?? '', credential, credentialOk };
    state.tokenRequests.push(record);
    if (state.hang) return; // the socket is destroyed by stop()
    if (t !== tenant) return json(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${t}' not found.` });
    if (record.grantType !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003: unsupported grant type' });
    if (record.clientId !== clientId || !credentialOk) {
      return json(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.', error_codes: [7000215] });
    }
    if (!record.scope.split(' ').includes(SCOPE)) return json(res, 400, { error: 'invalid_scope', error_description: `AADSTS70011: scope ${record.scope} is not valid.` });
    const { token: accessToken, jti } = issue();
    record.issued = jti;
    json(res, 200, { token_type: 'Bearer', expires_in: state.expiresIn, ext_expires_in: state.expiresIn, access_token: accessToken });
  }

  function discovery(res: ServerResponse, t: string) {
    state.discoveries++;
    json(res, 200, {
      token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/${t}/v2.0`,
      authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
    });
  }

  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      let m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
      if (req.method === 'GET' && m) return discovery(res, m[1]!);
      m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
      if (req.method === 'POST' && m) return token(req, res, new URLSearchParams(Buffer.concat(chunks).toString('utf8')), m[1]!);
      if (req.method === 'GET' && /\/discovery\/v2\.0\/keys$/.test(path)) {
        return json(res, 200, { keys: [{ ...createPublicKey(signing.publicKey).export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] });
      }
      json(res, 404, { error: 'not_found', error_description: `${req.method} ${path}` });
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let port = 0;
  const start = async () => {
    if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  };
  const stop = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await start();
  port = (server.address() as AddressInfo).port;
  base = `https://127.0.0.1:${port}`;

  function verifyAccessToken(authorization: string | undefined): ReturnType<MockEntra['verifyAccessToken']> {
    const m = /^Bearer (\S+)$/.exec(authorization ?? '');
    if (!m) return { ok: false, reason: 'no bearer token' };
    const d = decodeJwt(m[1]!);
    if (!d) return { ok: false, reason: 'not a JWT' };
    if (d.header.alg !== 'RS256' || d.header.kid !== kid) return { ok: false, reason: `unexpected header ${JSON.stringify(d.header)}` };
    if (!verify('sha256', d.signed, signing.publicKey, d.signature)) return { ok: false, reason: 'bad signature' };
    const p = d.payload;
    if (p.aud !== AZURE_OPENAI_AUDIENCE) return { ok: false, reason: `aud ${String(p.aud)}` };
    if (p.tid !== tenant || p.appid !== clientId) return { ok: false, reason: 'wrong tenant or app' };
    if (!(Number(p.exp) > Math.floor(Date.now() / 1000))) return { ok: false, reason: 'expired' };
    return { ok: true, claims: p };
  }

  return Object.assign(state, {
    url: base,
    port,
    caPath,
    tenant,
    clientId,
    verifyAccessToken,
    stop,
    start,
    close: stop,
  }) as MockEntra;
}

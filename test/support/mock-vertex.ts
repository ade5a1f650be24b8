/**
 * A loopback stand-in for Vertex AI (`…/v1/projects/{p}/locations/{r}/publishers/anthropic/models/
 * {model}:rawPredict | :streamRawPredict`, `count-tokens:rawPredict`) and for Google's OAuth token
 * endpoint. The token endpoint accepts only a JWT-bearer grant whose RS256 assertion verifies
 * with the test service account's public key; the model endpoints accept only tokens it issued.
 * Replies are standard Anthropic SSE / JSON from the shared script; faults are injectable.
 */
import { createSign, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-server';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scriptedEvents, scriptedMessage, sseEvent, type ScriptedReply } from '../../gateway-server/src/routing/sse';
import { DEFAULT_REPLY, sleep } from './mock-anthropic';

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export interface VertexRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  json?: Record<string, unknown>;
  project: string;
  region: string;
  model: string;
  method: string;
  authorized: boolean;
}

export interface VertexBehaviour {
  status?: number;
  /** Google's error envelope message (default mentions a project number, as real ones do). */
  errorMessage?: string;
  /** Send this body verbatim (e.g. an Anthropic envelope). */
  rawErrorBody?: string;
  firstByteDelayMs?: number;
  eventDelayMs?: number;
  cutAfterEvents?: number;
  countTokens?: number;
  reply?: Partial<ScriptedReply>;
}

export interface TestServiceAccount {
  /** Path of the key file, as `auth.service_account_json` takes it. */
  path: string;
  clientEmail: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

export function createTestServiceAccount(): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = 'tollgate-test@tollgate-test.iam.gserviceaccount.com';
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sa-'));
  const path = join(dir, 'service-account.json');
  writeFileSync(
    path,
    JSON.stringify({
      type: 'service_account',
      project_id: 'tollgate-test',
      private_key_id: 'k1',
      private_key: privateKeyPem,
      client_email: clientEmail,
      client_id: '1',
      token_uri: GOOGLE_TOKEN_URL,
    }),
    { mode: 0o600 },
  );
  return { path, clientEmail, privateKeyPem, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export interface MockVertex {
  url: string;
  /** Base URL for `base_url:` (ends in /v1). */
  baseUrl: string;
  requests: VertexRequest[];
  queue: VertexBehaviour[];
  defaults: VertexBehaviour;
  /** Grants accepted by the token endpoint. */
  tokenGrants: number;
  /** The token endpoint's handler, for mounting behind an HTTPS proxy as oauth2.googleapis.com. */
  tokenHandler(req: IncomingMessage, res: ServerResponse): void;
  /** Run a JWT-bearer grant against our own token endpoint and return the access token. */
  fetchToken(assertion: string): Promise<string>;
  close(): Promise<void>;
}

function b64urlJson(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

export async function startMockVertex(sa: Pick<TestServiceAccount, 'clientEmail' | 'publicKeyPem'>): Promise<MockVertex> {
  const state = { requests: [] as VertexRequest[], queue: [] as VertexBehaviour[], defaults: {} as VertexBehaviour, tokenGrants: 0 };
  const issued = new Set<string>();

  function verifyAssertion(assertion: string): boolean {
    const [h, p, s] = assertion.split('.');
    if (!h || !p || !s) return false;
    const header = b64urlJson(h);
    const claims = b64urlJson(p);
    if (header.alg !== 'RS256') return false;
    const ok = createVerify('RSA-SHA256').update(`${h}.${p}`).verify(sa.publicKeyPem, Buffer.from(s, 'base64url'));
    const now = Math.floor(Date.now() / 1000);
    return (
      ok &&
      claims.iss === sa.clientEmail &&
      String(claims.scope).split(' ').includes('https://www.googleapis.com/auth/cloud-platform') &&
      claims.aud === GOOGLE_TOKEN_URL &&
      typeof claims.exp === 'number' &&
      claims.exp > now
    );
  }

  function tokenHandler(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const assertion = form.get('assertion') ?? '';
      if (req.method !== 'POST' || form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !verifyAssertion(assertion)) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }));
        return;
      }
      state.tokenGrants++;
      const token = `ya29.mock-${randomBytes(16).toString('hex')}`;
      issued.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
    });
  }

  const server = createServer((req, res) => {
    if ((req.url ?? '').startsWith('/token')) return tokenHandler(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const m = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/.exec(req.url ?? '');
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      /* bytes only */
    }
    const auth = String(req.headers.authorization ?? '');
    const authorized = auth.startsWith('Bearer ') && issued.has(auth.slice(7));
    state.requests.push({
      url: req.url ?? '',
      headers: req.headers,
      json,
      project: m?.[1] ?? '',
      region: m?.[2] ?? '',
      model: m ? decodeURIComponent(m[3]!) : '',
      method: m?.[4] ?? '',
      authorized,
    });
    const googleError = (status: number, message: string, gstatus: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: status, message, status: gstatus } }));
    };
    if (!authorized) return googleError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.', 'UNAUTHENTICATED');
    if (!m) return googleError(404, 'Not found', 'NOT_FOUND');
    const b = state.queue.shift() ?? state.defaults;
    if (b.firstByteDelayMs) await sleep(b.firstByteDelayMs);
    if (res.destroyed) return;
    if (b.status && b.status >= 400) {
      if (b.rawErrorBody) {
        res.writeHead(b.status, { 'content-type': 'application/json' });
        res.end(b.rawErrorBody);
        return;
      }
      const gstatus = b.status === 429 ? 'RESOURCE_EXHAUSTED' : b.status === 403 ? 'PERMISSION_DENIED' : b.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
      return googleError(b.status, b.errorMessage ?? `mock vertex error ${b.status} in project 987654321098`, gstatus);
    }
    if (m[3] === 'count-tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: b.countTokens ?? DEFAULT_REPLY.inputTokens }));
      return;
    }
    const reply: ScriptedReply = { ...DEFAULT_REPLY, ...b.reply };
    if (m[4] === 'rawPredict') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(scriptedMessage(reply)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    const events = scriptedEvents(reply);
    for (let i = 0; i < events.length; i++) {
      if (b.cutAfterEvents !== undefined && i >= b.cutAfterEvents) {
        await sleep(30);
        res.socket?.destroy();
        return;
      }
      const e = events[i]!;
      res.write(sseEvent(e.type, e.data));
      if (b.eventDelayMs) await sleep(b.eventDelayMs);
      if (res.destroyed) return;
    }
    res.end();
  }

  const loop = await listenLoopback(server);
  const url = loop.url;
  // The returned object is the live state: tests assign `queue`/`defaults` and read `requests`.
  return Object.assign(state, {
    url,
    baseUrl: `${url}/v1`,
    tokenHandler,
    async fetchToken(assertion: string) {
      const r = await fetch(`${url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      });
      const j = (await r.json()) as { access_token?: string };
      if (!j.access_token) throw new Error(`token endpoint refused: ${JSON.stringify(j)}`);
      return j.access_token;
    },
    close: loop.close,
  }) as MockVertex;
}

/** A JWT-bearer assertion as google-auth-library builds it, for in-process tests' token source. */
export function signAssertion(privateKeyPem: string, clientEmail: string): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = enc({ alg: 'RS256', typ: 'JWT' });
  const body = enc({ iss: clientEmail, scope: 'https://www.googleapis.com/auth/cloud-platform', aud: GOOGLE_TOKEN_URL, iat: now, exp: now + 3600 });
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(privateKeyPem).toString('base64url');
  return `${head}.${body}.${sig}`;
}

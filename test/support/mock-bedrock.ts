/**
 * A loopback stand-in for bedrock-runtime.<region>.amazonaws.com. It verifies every SigV4
 * signature with the test credentials and its own SigV4 implementation (test/support/sigv4.ts;
 * a mismatch gets Bedrock's 403 InvalidSignatureException), answers InvokeModel
 * with the scripted Anthropic JSON, InvokeModelWithResponseStream with real AWS event-stream
 * frames, CountTokens with {"inputTokens": N}, records requests and injects faults.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopback } from './loopback-server';
import { headerPairs, verify } from './sigv4';
import { fromUtf8 } from '@smithy/util-utf8';
import { eventStreamCodec } from '../../gateway-server/src/routing/bedrock-stream';
import { scriptedEvents, scriptedMessage, type ScriptedReply } from '../../gateway-server/src/routing/sse';
import { DEFAULT_REPLY, sleep } from './mock-anthropic';

export const TEST_AWS = {
  region: 'us-east-1',
  accessKeyId: 'AKIATESTTOLLGATE0001',
  secretAccessKey: 'test/secret/key/for/the/loopback/bedrock',
  sessionToken: 'test-session-token',
};

export interface BedrockRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json?: Record<string, unknown>;
  /** The model path segment, percent-decoded. */
  modelId: string;
  action: string;
  signatureOk: boolean;
  signedHeaders: string[];
  /** For count-tokens: the decoded invokeModel body. */
  countBody?: Record<string, unknown>;
}

/** An STS AssumeRole call the mock answered (served on the same origin at `/`). */
export interface StsCall {
  params: Record<string, string>;
  /** Access key ID the STS request was signed with. */
  signedBy: string;
}

export interface BedrockBehaviour {
  /** Answer with this status and Bedrock's `{"message"}` error shape. */
  status?: number;
  errorMessage?: string;
  /** x-amzn-errortype (e.g. ThrottlingException). */
  errorType?: string;
  /** Send this body verbatim instead (e.g. an Anthropic envelope). */
  rawErrorBody?: string;
  firstByteDelayMs?: number;
  eventDelayMs?: number;
  /** Destroy the socket after this many stream events. */
  cutAfterEvents?: number;
  /** Send a throttlingException frame after this many events. */
  exceptionAfterEvents?: number;
  /** Pause this long before the event at index `pauseBeforeEvent`. */
  pauseBeforeEvent?: number;
  pauseMs?: number;
  /** CountTokens answer: a count, or 'not-aws' for an unrecognisable body. */
  countTokens?: number | 'not-aws';
  reply?: Partial<ScriptedReply>;
}

export interface MockBedrock {
  url: string;
  stsCalls: StsCall[];
  /** Make STS refuse AssumeRole (AccessDenied). */
  stsFail: boolean;
  requests: BedrockRequest[];
  queue: BedrockBehaviour[];
  defaults: BedrockBehaviour;
  close(): Promise<void>;
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Verified with test/support/sigv4.ts, an implementation of SigV4 from AWS's description that
 * shares no code with the signer the gateway uses (@smithy/signature-v4), so a canonicalisation
 * mistake in that library cannot make both sides agree.
 */
function verifySignature(req: IncomingMessage, body: Buffer, creds: typeof TEST_AWS): { ok: boolean; signed: string[]; reason?: string } {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const request = { method: req.method ?? 'GET', path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers: headerPairs(req.rawHeaders), body };
  const v = verify(request, { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, region: creds.region, service: 'bedrock' });
  if (!v.ok) return v;
  // The signature covers the body only through this header: check it against the bytes received.
  if (req.headers['x-amz-content-sha256'] !== createHash('sha256').update(body).digest('hex')) return { ok: false, signed: v.signed, reason: 'x-amz-content-sha256 is not the body hash' };
  if (creds.sessionToken && (req.headers['x-amz-security-token'] !== creds.sessionToken || !v.signed.includes('x-amz-security-token'))) {
    return { ok: false, signed: v.signed, reason: 'the session token is missing, different or unsigned' };
  }
  return v;
}

function frame(headers: Record<string, string>, body: string): Uint8Array {
  const h: Record<string, { type: 'string'; value: string }> = {};
  for (const [k, v] of Object.entries(headers)) h[k] = { type: 'string', value: v };
  return eventStreamCodec.encode({ headers: h, body: fromUtf8(body) });
}

export function chunkFrame(eventJson: string): Uint8Array {
  return frame(
    { ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' },
    JSON.stringify({ bytes: Buffer.from(eventJson).toString('base64') }),
  );
}

export async function startMockBedrock(opts: { credentials?: typeof TEST_AWS; bearerToken?: string } = {}): Promise<MockBedrock> {
  const creds = opts.credentials ?? TEST_AWS;
  const state = { requests: [] as BedrockRequest[], queue: [] as BedrockBehaviour[], defaults: {} as BedrockBehaviour, stsCalls: [] as StsCall[], stsFail: false };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)));
  });

  // STS AssumeRole (AWS query protocol): hands out the test credentials this mock verifies with.
  function sts(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    const signedBy = /Credential=([^/]+)\/\d{8}\/[^/]+\/sts\/aws4_request/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    state.stsCalls.push({ params, signedBy });
    res.setHeader('content-type', 'text/xml');
    if (state.stsFail || params.Action !== 'AssumeRole') {
      res.statusCode = 403;
      res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/base is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
      return;
    }
    const expiration = new Date(Date.now() + 3600_000).toISOString();
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
        `<AssumedRoleUser><AssumedRoleId>AROATEST:${params.RoleSessionName}</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/test/${params.RoleSessionName}</Arn></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey><SessionToken>${creds.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `</AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    if (req.url === '/' && req.method === 'POST') return sts(req, res, body);
    const m = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|count-tokens)$/.exec(req.url ?? '');
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      /* bytes only */
    }
    const bearerOk = opts.bearerToken !== undefined && req.headers.authorization === `Bearer ${opts.bearerToken}`;
    const sig = bearerOk ? { ok: true, signed: [] } : verifySignature(req, body, creds);
    const rec: BedrockRequest = {
      url: req.url ?? '',
      headers: req.headers,
      body,
      json,
      modelId: m ? decodeURIComponent(m[1]!) : '',
      action: m?.[2] ?? '',
      signatureOk: sig.ok,
      signedHeaders: sig.signed,
    };
    state.requests.push(rec);
    const requestId = randomUUID();
    const common = { 'x-amzn-requestid': requestId };
    if (!sig.ok) {
      res.writeHead(403, { ...common, 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' });
      res.end(JSON.stringify({ message: SIGNATURE_MISMATCH }));
      return;
    }
    if (!m) {
      res.writeHead(404, { ...common, 'content-type': 'application/json', 'x-amzn-errortype': 'UnknownOperationException:' });
      res.end(JSON.stringify({ message: 'Unknown operation' }));
      return;
    }
    const b = state.queue.shift() ?? state.defaults;
    if (b.firstByteDelayMs) await sleep(b.firstByteDelayMs);
    if (res.destroyed) return;
    if (b.status && b.status >= 400) {
      res.writeHead(b.status, { ...common, 'content-type': 'application/json', 'x-amzn-errortype': `${b.errorType ?? 'InternalServerException'}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
      res.end(b.rawErrorBody ?? JSON.stringify({ message: b.errorMessage ?? `mock bedrock error ${b.status} for account 123456789012` }));
      return;
    }
    if (m[2] === 'count-tokens') {
      const inner = (json?.input as { invokeModel?: { body?: string } } | undefined)?.invokeModel?.body;
      if (inner) rec.countBody = JSON.parse(Buffer.from(inner, 'base64').toString('utf8'));
      res.writeHead(200, { ...common, 'content-type': 'application/json' });
      res.end(b.countTokens === 'not-aws' ? '<html>captive portal</html>' : JSON.stringify({ inputTokens: b.countTokens ?? DEFAULT_REPLY.inputTokens }));
      return;
    }
    const reply: ScriptedReply = { ...DEFAULT_REPLY, ...b.reply };
    if (m[2] === 'invoke') {
      res.writeHead(200, { ...common, 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': String(reply.inputTokens) });
      res.end(JSON.stringify(scriptedMessage(reply)));
      return;
    }
    res.writeHead(200, { ...common, 'content-type': 'application/vnd.amazon.eventstream' });
    const events = scriptedEvents(reply);
    for (let i = 0; i < events.length; i++) {
      if (b.cutAfterEvents !== undefined && i >= b.cutAfterEvents) {
        await sleep(30);
        res.socket?.destroy();
        return;
      }
      if (b.exceptionAfterEvents !== undefined && i >= b.exceptionAfterEvents) {
        res.end(
          frame(
            { ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' },
            JSON.stringify({ message: 'Too many requests for account 123456789012, please wait before trying again.' }),
          ),
        );
        return;
      }
      if (b.pauseBeforeEvent === i && b.pauseMs) await sleep(b.pauseMs);
      const e = events[i]!;
      const data =
        e.type === 'message_stop'
          ? { ...e.data, 'amazon-bedrock-invocationMetrics': { inputTokenCount: reply.inputTokens, outputTokenCount: reply.outputTokens, invocationLatency: 120, firstByteLatency: 40 } }
          : e.data;
      res.write(chunkFrame(JSON.stringify(data)));
      if (b.eventDelayMs) await sleep(b.eventDelayMs);
      if (res.destroyed) return;
    }
    res.end();
  }

  const loop = await listenLoopback(server);
  // The returned object is the live state: tests assign `queue`/`defaults`/`stsFail` and read `requests`.
  return Object.assign(state, { url: loop.url, close: loop.close }) as MockBedrock;
}

/**
 * A loopback S3-compatible endpoint for PutObject (path-style `PUT /<bucket>/<key>`). Every
 * request's SigV4 signature is recomputed with test/support/sigv4.ts (node:crypto only, not the
 * AWS SDK's signer) under S3's rules: the canonical URI is the path as sent (S3 does not encode
 * it twice) and the payload hash is `x-amz-content-sha256`, which must match the body. Wrong
 * signatures get S3's 403 SignatureDoesNotMatch; while `failing` is set every PUT gets that
 * status (e.g. 503 SlowDown). Accepted bodies are stored by key, a re-PUT overwriting as S3 does.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { listenLoopback } from './loopback-server';
import { canonicalHeaders, canonicalQuery, headerPairs, signingKey, stringToSign } from './sigv4';

export interface S3Receiver {
  url: string;
  /** key → body of the latest accepted PUT. */
  objects: Map<string, string>;
  puts: number;
  /** Requests refused by the signature check, with the reason. */
  refused: string[];
  /** `x-amz-security-token` of each accepted PUT that carried one (temporary credentials). */
  sessionTokens: string[];
  failing?: number;
  close(): Promise<void>;
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([^/,]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Why this request's signature is not valid for the given key pair, or undefined when it is. */
export function s3SignatureProblem(method: string, rawUrl: string, rawHeaders: string[], body: Buffer, creds: { accessKeyId: string; secretAccessKey: string; region: string }): string | undefined {
  const headers = headerPairs(rawHeaders);
  const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const m = AUTH_RE.exec(get('authorization') ?? '');
  if (!m) return 'no AWS4-HMAC-SHA256 Authorization for service s3';
  const [, keyId, date, region, signedList, given] = m;
  if (keyId !== creds.accessKeyId) return `unknown access key ${keyId}`;
  if (region !== creds.region) return `region ${region}, expected ${creds.region}`;
  const signed = signedList!.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) if (!signed.includes(required)) return `${required} is not signed`;
  const payloadHash = get('x-amz-content-sha256')!;
  if (payloadHash !== sha256Hex(body)) return 'x-amz-content-sha256 does not match the body';
  const amzDate = get('x-amz-date')!;
  if (amzDate.slice(0, 8) !== date) return 'credential date differs from X-Amz-Date';
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const creq = [method, path, canonicalQuery(q < 0 ? '' : rawUrl.slice(q + 1)), canonicalHeaders(headers, signed), signed.join(';'), payloadHash].join('\n');
  const sts = stringToSign(amzDate, `${date}/${region}/s3/aws4_request`, creq);
  const sig = createHmac('sha256', signingKey(creds.secretAccessKey, date!, region!, 's3')).update(sts, 'utf8').digest('hex');
  return sig === given ? undefined : 'signature mismatch';
}

const xmlError = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export async function startS3Receiver(opts: { bucket: string; accessKeyId: string; secretAccessKey: string; region: string }): Promise<S3Receiver> {
  const state: Omit<S3Receiver, 'url' | 'close'> = { objects: new Map(), puts: 0, refused: [], sessionTokens: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const reply = (status: number, code?: string, message = '') => {
        res.writeHead(status, code ? { 'content-type': 'application/xml' } : { etag: `"${createHash('md5').update(body).digest('hex')}"` });
        res.end(code ? xmlError(code, message) : '');
      };
      const problem = s3SignatureProblem(req.method!, req.url!, req.rawHeaders, body, opts);
      if (problem) {
        state.refused.push(problem);
        return reply(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
      }
      if (state.failing) return reply(state.failing, state.failing === 503 ? 'SlowDown' : 'InternalError', 'Please reduce your request rate.');
      const prefix = `/${opts.bucket}/`;
      if (req.method !== 'PUT' || !req.url!.startsWith(prefix)) return reply(400, 'InvalidRequest', 'only path-style PutObject is simulated');
      state.puts++;
      if (req.headers['x-amz-security-token']) state.sessionTokens.push(String(req.headers['x-amz-security-token']));
      state.objects.set(decodeURIComponent(req.url!.slice(prefix.length).split('?')[0]!), body.toString('utf8'));
      reply(200);
    });
  });
  const lb = await listenLoopback(server);
  return Object.assign(state, { url: lb.url, close: () => lb.close() });
}

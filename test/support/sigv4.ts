/**
 * An AWS Signature Version 4 verifier written from AWS's description of the algorithm with
 * node:crypto alone, so the Bedrock mock checks the gateway's signatures with code that shares
 * nothing with the signer the gateway uses (@smithy/signature-v4): a canonicalisation mistake
 * in one is caught by the other. test/unit/sigv4-oracle.test.ts holds it to AWS's published
 * test-suite vectors.
 *
 * Scope: what a signed JSON API call needs (header-signed requests, any path and query, session
 * tokens). Not implemented: presigned URLs, chunked payload signing, S3's single-encoding rule
 * and dot-segment normalisation (no Bedrock path has them).
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigV4Request {
  method: string;
  /** The path as the client signed it (for AWS SDKs, the path sent on the wire), without the query. */
  path: string;
  /** The raw query string, without '?'. */
  query: string;
  /** Every header as received, repeated names kept in order (Node's req.rawHeaders, paired). */
  headers: [string, string][];
  body: Buffer | string;
}

export interface SigV4Scope {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 percent-encoding: every byte but the unreserved characters A-Z a-z 0-9 - . _ ~, hex upper case. */
export function uriEncode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Percent-decoding that leaves malformed escapes as they are (they are then encoded as text). */
function lenientDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Each path segment encoded once more (services other than S3 sign the path encoded twice: once on the wire, once here). */
export function canonicalUri(path: string): string {
  return path === '' ? '/' : path.split('/').map(uriEncode).join('/');
}

/** Names and values decoded, re-encoded strictly, sorted by name then value. */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      const [k, v] = i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
      return [uriEncode(lenientDecode(k)), uriEncode(lenientDecode(v))] as const;
    });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Lower-case names; values trimmed, runs of spaces made one; repeated names joined with ',' in order. */
export function canonicalHeaders(headers: [string, string][], signed: string[]): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const n = name.toLowerCase();
    const list = byName.get(n) ?? [];
    list.push(value.trim().replace(/ +/g, ' '));
    byName.set(n, list);
  }
  return signed.map((n) => `${n}:${(byName.get(n) ?? []).join(',')}\n`).join('');
}

export function canonicalRequest(req: SigV4Request, signed: string[]): string {
  return [req.method.toUpperCase(), canonicalUri(req.path), canonicalQuery(req.query), canonicalHeaders(req.headers, signed), signed.join(';'), sha256Hex(req.body)].join('\n');
}

export function stringToSign(amzDate: string, scope: string, creq: string): string {
  return ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(creq)].join('\n');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

function headerValue(req: SigV4Request, name: string): string | undefined {
  return req.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** The Authorization header this request should carry when signed over `signed` (default: every header). */
export function authorization(req: SigV4Request, s: SigV4Scope, signed?: string[]): { authorization: string; canonicalRequest: string; stringToSign: string } {
  const names = signed ?? [...new Set(req.headers.map(([n]) => n.toLowerCase()))].sort();
  const amzDate = headerValue(req, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw new Error('SigV4 needs an X-Amz-Date header (yyyymmddThhmmssZ)');
  const scope = `${amzDate.slice(0, 8)}/${s.region}/${s.service}/aws4_request`;
  const creq = canonicalRequest(req, names);
  const sts = stringToSign(amzDate, scope, creq);
  const sig = createHmac('sha256', signingKey(s.secretAccessKey, amzDate.slice(0, 8), s.region, s.service)).update(sts, 'utf8').digest('hex');
  return { authorization: `AWS4-HMAC-SHA256 Credential=${s.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`, canonicalRequest: creq, stringToSign: sts };
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([^/,]+)\/([^/,]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/**
 * Checks a received request's Authorization header. `reason` says what is wrong (for a mock's
 * log and a test's message), in the spirit of AWS's own errors.
 */
export function verify(req: SigV4Request, s: SigV4Scope): { ok: boolean; signed: string[]; reason?: string; canonicalRequest?: string } {
  const auth = headerValue(req, 'authorization') ?? '';
  const m = AUTH_RE.exec(auth);
  if (!m) return { ok: false, signed: [], reason: 'Authorization is not an AWS4-HMAC-SHA256 header' };
  const [, keyId, date, region, service, signedList, given] = m;
  const signed = signedList!.split(';');
  if (keyId !== s.accessKeyId) return { ok: false, signed, reason: `unknown access key ${keyId}` };
  if (region !== s.region || service !== s.service) return { ok: false, signed, reason: `credential scope ${region}/${service}, expected ${s.region}/${s.service}` };
  if ([...signed].sort().join(';') !== signedList || new Set(signed).size !== signed.length) return { ok: false, signed, reason: 'SignedHeaders not sorted or repeated' };
  for (const required of ['host', 'x-amz-date']) if (!signed.includes(required)) return { ok: false, signed, reason: `${required} is not signed` };
  for (const n of signed) if (headerValue(req, n) === undefined) return { ok: false, signed, reason: `signed header ${n} is missing` };
  if (headerValue(req, 'x-amz-date')?.slice(0, 8) !== date) return { ok: false, signed, reason: 'credential date differs from X-Amz-Date' };
  const expected = authorization(req, s, signed);
  const sig = /Signature=([0-9a-f]{64})$/.exec(expected.authorization)![1];
  return sig === given ? { ok: true, signed } : { ok: false, signed, reason: 'signature mismatch', canonicalRequest: expected.canonicalRequest };
}

/** Node's rawHeaders ([name, value, name, value, …]) as pairs. */
export function headerPairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

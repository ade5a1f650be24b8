/**
 * Hostile bearer values: every entry must be answered 401 (or 403) in the route's protocol
 * shape, never 5xx. Built from the shapes that broke hand-rolled JWT parsers: headers and
 * payloads that are valid JSON but not objects, bad base64url, wrong part counts, odd
 * algorithms, huge and non-ASCII values, and signed tokens with hostile claims.
 */
import { createHmac } from 'node:crypto';

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const jwt = (header: string, payload: string, sig = 'x') => `${b64(header)}.${b64(payload)}.${sig}`;

/** Sign with the test secret so the signature check passes and the claim checks are reached. */
export function signedWith(secret: string, header: string, payload: string): string {
  const hp = `${b64(header)}.${b64(payload)}`;
  return `${hp}.${createHmac('sha256', secret).update(hp).digest('base64url')}`;
}

export function bearerCorpus(secret: string, issuer: string): { name: string; token: string }[] {
  const now = Math.floor(Date.now() / 1000);
  const good = (extra: Record<string, unknown>) =>
    JSON.stringify({ sub: 'u', aud: 'claude-gateway', iss: issuer, iat: now, exp: now + 600, ...extra });
  const hs = JSON.stringify({ alg: 'HS256', typ: 'JWT' });
  const entries: [string, string][] = [
    ['header JSON null', 'bnVsbA.e30.x'],
    ['payload JSON null', jwt(hs, 'null')],
    ['header JSON array', jwt('[]', '{}')],
    ['header JSON number', jwt('1', '{}')],
    ['header JSON string', jwt('"HS256"', '{}')],
    ['header JSON true', jwt('true', '{}')],
    ['payload JSON array', jwt(hs, '[1,2]')],
    ['payload JSON number', jwt(hs, '42')],
    ['header not JSON', jwt('{', '{}')],
    ['payload not JSON', jwt(hs, '{"sub":')],
    ['header alg null', jwt('{"alg":null}', '{}')],
    ['alg none', jwt('{"alg":"none"}', good({}), '')],
    ['alg RS256', jwt('{"alg":"RS256"}', good({}))],
    ['kid object', jwt('{"alg":"HS256","kid":{"a":1}}', good({}))],
    ['empty', ''],
    ['one dot', '.'],
    ['two dots', '..'],
    ['three dots', '...'],
    ['four parts', 'a.b.c.d'],
    ['five parts (JWE shape)', 'a.b.c.d.e'],
    ['bad base64url', '!!!.???.***'],
    ['padding', 'eyJhbGciOiJIUzI1NiJ9==.e30=.x='],
    ['whitespace inside', 'eyJh bGci.e30.x'],
    ['non-ASCII', 'ÿþ.é.ü'],
    ['emoji', '🔑.🔑.🔑'],
    ['long token (16 KB)', 'a'.repeat(16 * 1024)],
    ['deeply nested header', jwt('['.repeat(5000) + ']'.repeat(5000), '{}')],
    ['signed: payload null', signedWith(secret, hs, 'null')],
    ['signed: payload array', signedWith(secret, hs, '[]')],
    ['signed: sub number', signedWith(secret, hs, good({ sub: 42 }))],
    ['signed: sub with NUL', signedWith(secret, hs, good({ sub: 'u\u0000x' }))],
    ['signed: exp string', signedWith(secret, hs, good({ exp: 'never' }))],
    ['signed: exp missing', signedWith(secret, hs, JSON.stringify({ sub: 'u', aud: 'claude-gateway', iss: issuer }))],
    ['signed: exp past', signedWith(secret, hs, good({ exp: now - 10 }))],
    ['signed: nbf an hour ahead', signedWith(secret, hs, good({ nbf: now + 3600 }))],
    ['signed: nbf string', signedWith(secret, hs, good({ nbf: 'soon' }))],
    ['signed: sub lone surrogate', signedWith(secret, hs, good({ sub: 'u\ud800' }))],
    ['signed: wrong audience', signedWith(secret, hs, good({ aud: ['claude-gateway', 'x'] }))],
    ['signed: wrong issuer', signedWith(secret, hs, good({ iss: 'https://evil.example' }))],
    ['signed: header null', signedWith(secret, 'null', good({}))],
    ['wrong secret', signedWith('not-the-secret-0123456789abcdef0123456789', hs, good({}))],
  ];
  return entries.map(([name, token]) => ({ name, token }));
}

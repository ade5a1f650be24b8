import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as jose from 'jose';
import { keyId, SessionTokens } from '../../gateway-server/src/auth/session-token';
import { GatewayError } from '../../gateway-server/src/errors';

const S1 = 'a'.repeat(40);
const S2 = 'b'.repeat(40);
const ISS = 'http://127.0.0.1:8080';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err.code;
  }
  return 'OK';
}

function sign(header: object, claims: object, secret = S1): string {
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
}

describe('session tokens', () => {
  let now = 1_800_000_000_000;
  const tokens = () => new SessionTokens([S1, S2], ISS, 3600, () => now);

  it('mints the official format and verifies with an independent JWT library', async () => {
    const { token, claims } = tokens().mint({ sub: 'u1', email: 'a@example.com', name: 'A', groups: ['g'] });
    const { payload, protectedHeader } = await jose.jwtVerify(token, new TextEncoder().encode(S1), {
      audience: 'claude-gateway',
      issuer: ISS,
      currentDate: new Date(now),
    });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(protectedHeader.kid, keyId(S1));
    assert.equal(payload.exp, claims.iat + 3600);
    assert.deepEqual(payload.groups, ['g']);
  });

  it('verifies tokens signed by any configured secret (rotation)', () => {
    const old = new SessionTokens([S2], ISS, 3600, () => now).mint({ sub: 'u' }).token;
    assert.equal(tokens().verify(old).sub, 'u');
  });

  it('rejects alg none, no exp, wrong audience/issuer/key, expired and garbage', () => {
    const iat = Math.floor(now / 1000);
    const good = { sub: 'u', aud: 'claude-gateway', iss: ISS, iat, exp: iat + 60 };
    const t = tokens();
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`;
    assert.equal(code(() => t.verify(none)), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign({ alg: 'HS256' }, { ...good, exp: undefined }))), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign({ alg: 'HS256' }, { ...good, aud: 'other' }))), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign({ alg: 'HS256' }, { ...good, iss: 'http://evil' }))), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign({ alg: 'HS256' }, good, 'c'.repeat(40)))), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign({ alg: 'HS256' }, { ...good, exp: iat - 1 }))), 'AUTH_EXPIRED');
    assert.equal(code(() => t.verify('not-a-jwt')), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign({ alg: 'HS256' }, good))), 'OK');
  });

  it('expires a cached token when the clock passes exp', () => {
    const t = tokens();
    const { token } = t.mint({ sub: 'u' });
    assert.equal(code(() => t.verify(token)), 'OK');
    now += 3601_000;
    assert.equal(code(() => t.verify(token)), 'AUTH_EXPIRED');
  });

  it('refuses a header or payload that is JSON but not an object (bnVsbA = "null") with AUTH_INVALID, not a TypeError', () => {
    const t = tokens();
    assert.equal(code(() => t.verify('bnVsbA.e30.x')), 'AUTH_INVALID');
    assert.equal(code(() => t.verify(sign([] as unknown as object, {}))), 'AUTH_INVALID');
    const nul = Buffer.from('null').toString('base64url');
    const h = Buffer.from('{"alg":"HS256"}').toString('base64url');
    assert.equal(code(() => t.verify(`${h}.${nul}.${createHmac('sha256', S1).update(`${h}.${nul}`).digest('base64url')}`)), 'AUTH_INVALID');
  });

  it('enforces nbf with the configured clock skew', () => {
    const iat = Math.floor(now / 1000);
    const claims = { sub: 'u', aud: 'claude-gateway', iss: ISS, iat, exp: iat + 7200 };
    const strict = tokens();
    const skewed = new SessionTokens([S1], ISS, 3600, () => now, 30);
    assert.equal(code(() => strict.verify(sign({ alg: 'HS256' }, { ...claims, nbf: iat + 3600 }))), 'AUTH_INVALID', 'an hour ahead');
    assert.equal(code(() => skewed.verify(sign({ alg: 'HS256' }, { ...claims, nbf: iat + 3600 }))), 'AUTH_INVALID', 'an hour ahead, 30 s skew');
    assert.equal(code(() => strict.verify(sign({ alg: 'HS256' }, { ...claims, nbf: iat + 20 }))), 'AUTH_INVALID', '20 s ahead, no skew');
    assert.equal(code(() => skewed.verify(sign({ alg: 'HS256' }, { ...claims, nbf: iat + 20 }))), 'OK', '20 s ahead, 30 s skew');
    assert.equal(code(() => strict.verify(sign({ alg: 'HS256' }, { ...claims, nbf: iat }))), 'OK', 'nbf now');
    assert.equal(code(() => strict.verify(sign({ alg: 'HS256' }, { ...claims, nbf: 'later' }))), 'AUTH_INVALID', 'nbf not a number');
  });

  it('refuses a subject PostgreSQL cannot store (NUL, lone surrogate)', () => {
    const iat = Math.floor(now / 1000);
    const claims = { aud: 'claude-gateway', iss: ISS, iat, exp: iat + 60 };
    assert.equal(code(() => tokens().verify(sign({ alg: 'HS256' }, { ...claims, sub: 'u\u0000' }))), 'AUTH_INVALID');
    assert.equal(code(() => tokens().verify(sign({ alg: 'HS256' }, { ...claims, sub: 'u\ud800' }))), 'AUTH_INVALID');
  });
});

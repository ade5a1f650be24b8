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
});

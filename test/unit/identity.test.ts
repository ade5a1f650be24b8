import assert from 'node:assert/strict';
import { applyGates, mapClaims, readClaim, SignInRejected, type ClaimRules } from '../../gateway-server/src/auth/claims';
import { newUserCode, normalizeUserCode } from '../../gateway-server/src/auth/device-grants';
import { RefreshSealer, REFRESH_SEAL_MAX_SECONDS } from '../../gateway-server/src/auth/refresh-seal';

const rules = (r: Partial<ClaimRules> = {}): ClaimRules => ({ email_claim: 'email', groups_claim: 'groups', allowed_email_domains: [], allowed_groups: [], ...r });
const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SignInRejected);
    return err.reason;
  }
  return 'OK';
};

describe('identity: claim mapping and gates', () => {
  it('reads flat keys and RFC 6901 JSON Pointers', () => {
    const c = { a: { 'b/c': { 'd~e': 1 } }, roles: ['x'] };
    assert.equal(readClaim(c, '/a/b~1c/d~0e'), 1);
    assert.deepEqual(readClaim(c, 'roles'), ['x']);
    assert.equal(readClaim(c, '/missing/deeper'), undefined);
  });

  it('maps email through a fallback list and groups through a pointer (Entra roles)', () => {
    const id = mapClaims(rules({ email_claim: ['upn', 'preferred_username', 'email'], groups_claim: '/realm_access/roles' }), {
      sub: 's1',
      preferred_username: 'Ann@Corp.example',
      realm_access: { roles: ['eng', 7, ''] },
    });
    assert.deepEqual(id, { sub: 's1', email: 'Ann@Corp.example', name: undefined, groups: ['eng'] });
  });

  it('lets userinfo fill only what the id_token lacks, and only for the same sub', () => {
    const id = mapClaims(rules(), { sub: 's1', name: 'From token' }, { sub: 's1', email: 'a@x.example', name: 'Other', groups: ['g'] });
    assert.equal(id.email, 'a@x.example');
    assert.equal(id.name, 'From token');
    assert.deepEqual(id.groups, ['g']);
    const other = mapClaims(rules(), { sub: 's1' }, { sub: 'someone-else', email: 'evil@x.example' });
    assert.equal(other.email, undefined);
  });

  it('always rejects email_verified:false', () => {
    assert.equal(reason(() => mapClaims(rules(), { sub: 's', email: 'a@b.example', email_verified: false })), 'email not verified');
  });

  it('enforces allowed_email_domains case-insensitively and allowed_groups exactly', () => {
    const r = rules({ allowed_email_domains: ['Example.com'], allowed_groups: ['Eng'] });
    assert.equal(reason(() => applyGates(r, { sub: 's', email: 'a@EXAMPLE.COM', groups: ['Eng'] })), 'OK');
    assert.equal(reason(() => applyGates(r, { sub: 's', email: 'a@evil.com', groups: ['Eng'] })), 'email domain not allowed');
    assert.equal(reason(() => applyGates(r, { sub: 's', groups: ['Eng'] })), 'id_token missing email claim');
    assert.equal(reason(() => applyGates(r, { sub: 's', email: 'a@example.com', groups: ['eng'] })), 'not in an allowed group');
    assert.equal(reason(() => applyGates(rules(), { sub: 's', groups: [] })), 'OK', 'no gates: no email needed');
  });
});

describe('identity: user codes', () => {
  it('generates XXXX-XXXX from the RFC 8628 base-20 alphabet', () => {
    for (let i = 0; i < 200; i++) assert.match(newUserCode(), /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  });
  it('normalises what people type and rejects anything else', () => {
    assert.equal(normalizeUserCode('wdjb mjht'), 'WDJB-MJHT');
    assert.equal(normalizeUserCode(' WDJB-MJHT '), 'WDJB-MJHT');
    assert.equal(normalizeUserCode('WDJBMJHA'), undefined, 'vowels are not in the alphabet');
    assert.equal(normalizeUserCode('WDJB'), undefined);
    assert.equal(normalizeUserCode(42), undefined);
    assert.equal(normalizeUserCode('W'.repeat(100)), undefined);
  });
});

describe('identity: sealed refresh tokens', () => {
  const S1 = 'a'.repeat(40);
  const S2 = 'b'.repeat(40);
  let now = 1_800_000_000_000;
  const payload = { rt: 'idp-refresh-token', sid: 'sid-1', sub: 'alice', auth_time: 1_800_000_000 };

  it('seals with the first secret, opens with any, and hides the IdP token', async () => {
    const old = new RefreshSealer([S2], () => now);
    const sealed = await old.seal(payload);
    assert.equal(sealed.includes('idp-refresh-token'), false);
    assert.equal(Buffer.from(sealed.split('.')[0]!, 'base64url').toString().includes('"enc":"A256GCM"'), true);
    const rotated = new RefreshSealer([S1, S2], () => now);
    assert.equal((await rotated.open(sealed))?.rt, 'idp-refresh-token');
    assert.equal(await new RefreshSealer([S1], () => now).open(sealed), undefined, 'a dropped secret no longer opens');
  });

  it('refuses tampered, foreign and expired tokens', async () => {
    const s = new RefreshSealer([S1], () => now);
    const sealed = await s.seal(payload);
    const parts = sealed.split('.');
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith('AA') ? 'BB' : 'AA');
    assert.equal(await s.open(parts.join('.')), undefined);
    assert.equal(await s.open('not.a.jwe.at.all'), undefined);
    now += (REFRESH_SEAL_MAX_SECONDS + 1) * 1000;
    assert.equal(await s.open(sealed), undefined);
  });
});

describe('identity: development IdP is loopback only', () => {
  it('refuses to bind anything but loopback', async () => {
    const { startDevIdp } = await import('../../gateway-server/src/auth/dev-idp');
    await assert.rejects(startDevIdp({ host: '0.0.0.0', clientId: 'c', clientSecret: 's', redirectUris: ['http://127.0.0.1:1/oauth/callback'] }), /only binds loopback/);
  });

  it('refuses to start when the gateway or the issuer is not on loopback', async () => {
    const { buildApp } = await import('../../gateway-server/src/app');
    const { testConfig } = await import('../support/gateway');
    const config = testConfig({
      listen: { host: '0.0.0.0', port: 8080, public_url: 'https://gw.example.com' },
      oidc: { issuer: 'http://127.0.0.1:9999', client_id: 'tollgate-dev', client_secret: 'x', allow_insecure_issuer: true },
      dev_idp: { enabled: true, port: 9999 },
    });
    // The check runs before the store is touched, so no database is needed.
    await assert.rejects(buildApp({ config, db: {} as never }), /dev_idp runs only on loopback/);
  });
});

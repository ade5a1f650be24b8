/** Session lifecycle: refresh scheduling, single-flight refresh, sign-out on invalid_grant / revocation. */
import assert from 'node:assert/strict';
import { refreshDelay, sessionFromTokens } from '../../extension/src/auth/session';
import { ASIDE_KEY, SECRET_KEY, SessionManager, type SessionChange } from '../../extension/src/auth/session-manager';
import { startFakeOAuth, type FakeOAuth } from '../support/fake-oauth';

const jwt = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

class MemorySecrets {
  readonly map = new Map<string, string>();
  async get(k: string) { return this.map.get(k); }
  async store(k: string, v: string) { this.map.set(k, v); }
  async delete(k: string) { this.map.delete(k); }
}

describe('extension session lifecycle', () => {
  it('schedules refresh at 80% of the lifetime, at least 60 s before expiry, never in the past', () => {
    assert.equal(refreshDelay(1_000_000 + 3_600_000, 1_000_000), 2_880_000);
    assert.equal(refreshDelay(1_000_000 + 200_000, 1_000_000), 140_000);
    assert.equal(refreshDelay(1_000_000 + 30_000, 1_000_000), 0);
    assert.equal(refreshDelay(1_000_000 - 5, 1_000_000), 0);
  });

  it('labels the account from the token response email and the unverified JWT claims', () => {
    const s = sessionFromTokens('http://gw.test', { access_token: jwt({ sub: 'u-1', groups: ['eng'], name: 'Dev', exp: 2000 }), token_type: 'Bearer', email: 'dev@example.com' }, 1_000_000);
    assert.deepEqual(s.account, { id: 'u-1', label: 'dev@example.com', email: 'dev@example.com', name: 'Dev', groups: ['eng'] });
    assert.equal(s.expiresAt, 2_000_000, 'falls back to exp without expires_in');
  });

  describe('SessionManager against a loopback token endpoint', () => {
    let srv: FakeOAuth;
    let secrets: MemorySecrets;
    let now: number;
    let scheduled: { fn: () => void; ms: number }[];
    let changes: SessionChange[];
    let mgr: SessionManager;

    beforeEach(async () => {
      srv = await startFakeOAuth();
      secrets = new MemorySecrets();
      now = 1_000_000;
      scheduled = [];
      changes = [];
      mgr = new SessionManager(secrets, {
        fetch: (...a) => fetch(...a),
        now: () => now,
        timers: { setTimeout: (fn, ms) => scheduled.push({ fn, ms }), clearTimeout: () => {} },
      });
      mgr.onDidChange((c) => changes.push(c));
    });
    afterEach(() => srv.close());

    it('keeps tokens only in the secret store and schedules the silent refresh', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
      const stored = JSON.parse(secrets.map.get(SECRET_KEY)!);
      assert.equal(stored.accessToken, 'at-1');
      assert.equal(stored.refreshToken, 'rt-1');
      assert.equal(scheduled.at(-1)!.ms, 2_880_000);
      assert.equal(changes[0]!.kind, 'signedIn');
    });

    it('refreshes once for concurrent callers near expiry and stores the rotated pair', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
      now += 3_590_000;
      const tokens = await Promise.all([mgr.accessToken(), mgr.accessToken(), mgr.accessToken()]);
      assert.deepEqual(tokens, ['at-2', 'at-2', 'at-2']);
      assert.equal(srv.forms.filter((f) => f.form.grant_type === 'refresh_token').length, 1);
      assert.equal(JSON.parse(secrets.map.get(SECRET_KEY)!).refreshToken, 'rt-2');
      assert.equal(changes.at(-1)!.kind, 'refreshed');
    });

    it('the scheduled timer refreshes silently', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
      scheduled.at(-1)!.fn();
      await mgr.refresh(); // single flight: joins the refresh the timer started
      assert.equal(mgr.current?.accessToken, 'at-2');
    });

    it('signs out (reason expired) and clears the store on invalid_grant', async () => {
      srv.refreshAnswer = [401, { error: 'invalid_grant' }];
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 20, refresh_token: 'rt-1' });
      assert.equal(await mgr.accessToken(), undefined);
      assert.equal(secrets.map.size, 0);
      assert.deepEqual(changes.map((c) => [c.kind, c.reason]), [['signedIn', undefined], ['signedOut', 'expired']]);
    });

    it('keeps the session through a 503 on refresh while the bearer is still valid', async () => {
      srv.refreshAnswer = [503, { error: 'temporarily_unavailable' }];
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 20, refresh_token: 'rt-1' });
      assert.equal(await mgr.accessToken(), 'at-1');
      assert.equal(scheduled.at(-1)!.ms, 60_000, 'retries in a minute');
    });

    it('a 401 with x-should-retry: false on a session without refresh token signs out', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600 });
      await mgr.onRejected('some-other-token');
      assert.ok(mgr.current, 'ignores a token that is not current');
      await mgr.onRejected('at-1');
      assert.equal(mgr.current, undefined);
      assert.equal(changes.at(-1)!.reason, 'expired');
    });

    it('sign-out revokes both tokens when advertised and forgets them first', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
      assert.deepEqual(await mgr.signOut(), { revoked: true });
      assert.equal(secrets.map.size, 0);
      assert.deepEqual(srv.forms.filter((f) => f.path === '/oauth/revoke').map((f) => f.form.token), ['at-1', 'rt-1']);
      assert.equal(changes.at(-1)!.reason, 'user');
    });

    it('restores a stored session only for the configured gateway, setting others aside instead of dropping them', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
      const other = new SessionManager(secrets, { fetch, now: () => now });
      assert.equal((await other.restore(srv.url))?.accessToken, 'at-1');
      // A window configured for another gateway starts signed out there...
      assert.equal(await new SessionManager(secrets).restore('http://elsewhere.test'), undefined);
      assert.equal(secrets.map.get(SECRET_KEY), undefined);
      assert.equal(JSON.parse(secrets.map.get(ASIDE_KEY)!)[srv.url].accessToken, 'at-1', 'the session is set aside, not dropped');
      // ...and switching back finds the developer still signed in, with nothing revoked.
      assert.equal((await new SessionManager(secrets).restore(srv.url))?.refreshToken, 'rt-1');
      assert.equal(JSON.parse(secrets.map.get(SECRET_KEY)!).accessToken, 'at-1');
      assert.equal(secrets.map.get(ASIDE_KEY), undefined);
      assert.equal(srv.forms.filter((f) => f.path === '/oauth/revoke').length, 0);
    });

    it('switching gateways while running sets the session aside (no revocation) and brings it back', async () => {
      await mgr.adopt(srv.url, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' });
      assert.equal(await mgr.switchGateway('http://elsewhere.test'), undefined);
      assert.equal(mgr.current?.accessToken, undefined, 'signed out here');
      assert.deepEqual(changes.map((c) => [c.kind, c.reason]), [['signedIn', undefined], ['signedOut', 'switched']]);
      assert.equal(srv.forms.filter((f) => f.path === '/oauth/revoke').length, 0, 'nothing revoked');
      assert.equal((await mgr.switchGateway(srv.url))?.accessToken, 'at-1');
      assert.equal(mgr.current?.accessToken, 'at-1');
      assert.deepEqual(changes.at(-1)!.kind, 'signedIn');
      assert.equal(await mgr.accessToken(), 'at-1');
    });

    it('ignores a set-aside entry that is not a session for the gateway it is filed under', async () => {
      secrets.map.set(ASIDE_KEY, JSON.stringify({ 'http://a.test': { junk: true }, 'http://b.test': 'x' }));
      assert.equal(await mgr.restore('http://a.test'), undefined);
      assert.equal(mgr.current, undefined);
    });
  });
});

/** The extension's sign-in client against a loopback server speaking the protocol's wire format. */
import assert from 'node:assert/strict';
import { discover, pollForToken, refreshToken, revokeTokens, SignInError, startDeviceAuthorization, type DeviceFlowDeps } from '../../extension/src/auth/device-flow';
import { startFakeOAuth, type FakeOAuth } from '../support/fake-oauth';

describe('extension device-flow client', () => {
  let srv: FakeOAuth;
  let slept: number[];
  let now: number;
  const deps = (): DeviceFlowDeps => ({
    fetch: (...a) => fetch(...a),
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    now: () => now,
  });

  beforeEach(async () => {
    srv = await startFakeOAuth();
    slept = [];
    now = 1_000_000;
  });
  afterEach(() => srv.close());

  it('discovers same-origin endpoints and starts the device grant with surface only', async () => {
    const ep = await discover(srv.url + '/');
    assert.equal(ep.token, `${srv.url}/oauth/token`);
    assert.equal(ep.revocation, `${srv.url}/oauth/revoke`);
    const grant = await startDeviceAuthorization(ep);
    assert.equal(grant.user_code, 'WDJB-MJHT');
    assert.deepEqual(srv.forms[0], { path: '/oauth/device_authorization', form: { surface: 'vscode' } });
  });

  it('falls back to {base}/oauth/* when discovery fails and then skips revocation', async () => {
    const ep = await discover(`${srv.url}/nothing-here`);
    assert.equal(ep.deviceAuthorization, `${srv.url}/nothing-here/oauth/device_authorization`);
    assert.equal(ep.revocation, undefined);
    assert.equal(await revokeTokens(ep, { access: 'x' }), false);
  });

  it('polls every interval, keeps polling on authorization_pending and adds 5 s on slow_down', async () => {
    srv.pollAnswers = [
      [400, { error: 'authorization_pending' }],
      [429, { error: 'slow_down' }],
      [400, { error: 'authorization_pending' }],
      [200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1', email: 'dev@example.com' }],
    ];
    const ep = await discover(srv.url);
    const grant = await startDeviceAuthorization(ep);
    const tokens = await pollForToken(ep, grant, {}, deps());
    assert.equal(tokens.access_token, 'at-1');
    assert.equal(tokens.email, 'dev@example.com');
    assert.deepEqual(slept, [5000, 5000, 10000, 10000]);
    const polls = srv.forms.filter((f) => f.path === '/oauth/token');
    assert.equal(polls.length, 4);
    assert.deepEqual(polls[0]!.form, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'dc-123' });
  });

  for (const [error, code] of [['access_denied', 'ACCESS_DENIED'], ['expired_token', 'EXPIRED']] as const) {
    it(`stops with ${code} on ${error}`, async () => {
      srv.pollAnswers = [[400, { error }]];
      const ep = await discover(srv.url);
      const grant = await startDeviceAuthorization(ep);
      await assert.rejects(pollForToken(ep, grant, {}, deps()), (e: unknown) => e instanceof SignInError && e.code === code);
    });
  }

  it('gives up with EXPIRED once expires_in has passed while pending', async () => {
    srv.pollAnswers = [[400, { error: 'authorization_pending' }]];
    const ep = await discover(srv.url);
    const grant = await startDeviceAuthorization(ep);
    await assert.rejects(pollForToken(ep, grant, {}, deps()), (e: unknown) => e instanceof SignInError && e.code === 'EXPIRED');
    assert.equal(slept.reduce((a, b) => a + b, 0), 605_000);
  });

  it('cancels polling through the abort signal', async () => {
    srv.pollAnswers = [[400, { error: 'authorization_pending' }]];
    const ep = await discover(srv.url);
    const grant = await startDeviceAuthorization(ep);
    const abort = new AbortController();
    const d = deps();
    d.sleep = async () => abort.abort();
    await assert.rejects(pollForToken(ep, grant, { signal: abort.signal }, d), (e: unknown) => e instanceof SignInError && e.code === 'CANCELLED');
  });

  it('refreshes, and maps invalid_grant to INVALID_GRANT and 503 to UNAVAILABLE', async () => {
    const ep = await discover(srv.url);
    assert.equal((await refreshToken(ep, 'rt-1')).access_token, 'at-2');
    assert.deepEqual(srv.forms.at(-1)!.form, { grant_type: 'refresh_token', refresh_token: 'rt-1' });
    srv.refreshAnswer = [401, { error: 'invalid_grant' }];
    await assert.rejects(refreshToken(ep, 'rt-1'), (e: unknown) => e instanceof SignInError && e.code === 'INVALID_GRANT');
    srv.refreshAnswer = [503, { error: 'temporarily_unavailable' }];
    await assert.rejects(refreshToken(ep, 'rt-1'), (e: unknown) => e instanceof SignInError && e.code === 'UNAVAILABLE');
  });

  it('revokes the access token, then the refresh token with its hint (RFC 7009)', async () => {
    const ep = await discover(srv.url);
    assert.equal(await revokeTokens(ep, { access: 'at-1', refresh: 'rt-1' }), true);
    assert.deepEqual(srv.forms.map((f) => f.form), [{ token: 'at-1' }, { token: 'rt-1', token_type_hint: 'refresh_token' }]);
  });

  it('reports an unreachable gateway as UNREACHABLE', async () => {
    await assert.rejects(discover('http://127.0.0.1:9'), (e: unknown) => e instanceof SignInError && e.code === 'UNREACHABLE');
  });
});

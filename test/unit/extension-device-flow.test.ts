/**
 * The extension's sign-in client (the shared DeviceFlowClient with its errors mapped to the UI's
 * codes) against a loopback server speaking the protocol's wire format.
 */
import assert from 'node:assert/strict';
import { createSignInClient, pollForToken, refreshToken, revokeTokens, SignInError, startDeviceAuthorization, type DeviceFlowDeps } from '../../extension/src/auth/device-flow';
import { startFakeOAuth, type FakeOAuth } from '../support/fake-oauth';

const is = (code: string) => (e: unknown) => e instanceof SignInError && e.code === code;

describe('extension device-flow client', () => {
  let srv: FakeOAuth;
  let slept: number[];
  const deps = (): Partial<DeviceFlowDeps> => ({
    fetch: (...a) => fetch(...a),
    sleep: async (ms) => void slept.push(ms),
  });
  const client = () => createSignInClient(srv.url + '/', deps());

  beforeEach(async () => {
    srv = await startFakeOAuth();
    slept = [];
  });
  afterEach(() => srv.close());

  it('starts the device grant with surface=vscode at the discovered endpoint', async () => {
    const grant = await startDeviceAuthorization(client());
    assert.equal(grant.user_code, 'WDJB-MJHT');
    assert.deepEqual(srv.forms[0], { path: '/oauth/device_authorization', form: { surface: 'vscode' } });
  });

  it('polls every interval, keeps polling on authorization_pending and adds 5 s on slow_down', async () => {
    srv.pollAnswers = [
      [400, { error: 'authorization_pending' }],
      [429, { error: 'slow_down' }],
      [400, { error: 'authorization_pending' }],
      [200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1', email: 'dev@example.com' }],
    ];
    const c = client();
    const tokens = await pollForToken(c, await startDeviceAuthorization(c));
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
      const c = client();
      await assert.rejects(pollForToken(c, await startDeviceAuthorization(c)), is(code));
    });
  }

  it('gives up with EXPIRED once expires_in has passed while pending', async () => {
    srv.pollAnswers = [[400, { error: 'authorization_pending' }]];
    const c = client();
    await assert.rejects(pollForToken(c, await startDeviceAuthorization(c)), is('EXPIRED'));
    assert.ok(slept.reduce((a, b) => a + b, 0) >= 600_000);
  });

  it('cancels polling through the abort signal', async () => {
    srv.pollAnswers = [[400, { error: 'authorization_pending' }]];
    const abort = new AbortController();
    const c = createSignInClient(srv.url, { fetch, sleep: async () => abort.abort() });
    await assert.rejects(pollForToken(c, await startDeviceAuthorization(c), { signal: abort.signal }), is('CANCELLED'));
  });

  it('refreshes, and maps invalid_grant to INVALID_GRANT and 503 to UNAVAILABLE', async () => {
    assert.equal((await refreshToken(client(), 'rt-1')).access_token, 'at-2');
    assert.deepEqual(srv.forms.at(-1)!.form, { grant_type: 'refresh_token', refresh_token: 'rt-1' });
    srv.refreshAnswer = [401, { error: 'invalid_grant' }];
    await assert.rejects(refreshToken(client(), 'rt-1'), is('INVALID_GRANT'));
    srv.refreshAnswer = [503, { error: 'temporarily_unavailable' }];
    await assert.rejects(refreshToken(client(), 'rt-1'), is('UNAVAILABLE'));
  });

  it('revokes the access token, then the refresh token (RFC 7009), and skips when not advertised', async () => {
    assert.equal(await revokeTokens(client(), { access: 'at-1', refresh: 'rt-1' }), true);
    assert.deepEqual(srv.forms.map((f) => [f.form.token, f.form.token_type_hint]), [['at-1', 'access_token'], ['rt-1', 'refresh_token']]);
    srv.advertiseRevocation = false;
    assert.equal(await revokeTokens(client(), { access: 'at-1' }), false);
  });

  it('reports an unreachable gateway as UNREACHABLE', async () => {
    await assert.rejects(startDeviceAuthorization(createSignInClient('http://127.0.0.1:9')), is('UNREACHABLE'));
  });
});

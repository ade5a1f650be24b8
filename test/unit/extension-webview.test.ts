/** The host <-> webview message contract, and the sidebar snapshot built from real state. */
import assert from 'node:assert/strict';
import { hostToWebviewSchema, sidebarStateSchema, webviewToHostSchema } from '../../gateway-server/src/protocol/webview';
import { TollgateState } from '../../extension/src/platform/state';
import { sessionFromTokens } from '../../extension/src/auth/session';
import { sidebarHtml } from '../../extension/src/sidebar/html';

describe('extension webview contract', () => {
  it('accepts the handshake and the known requests only', () => {
    assert.ok(webviewToHostSchema.safeParse({ type: 'view/ready' }).success);
    assert.ok(webviewToHostSchema.safeParse({ type: 'rpc/request', id: 1, method: 'command/run', params: { command: 'signIn' } }).success);
    assert.ok(webviewToHostSchema.safeParse({ type: 'rpc/request', id: 2, method: 'state/get', params: {} }).success);
    for (const bad of [
      { type: 'rpc/request', id: 1, method: 'command/run', params: { command: 'workbench.action.terminal.sendSequence' } },
      { type: 'rpc/request', id: -1, method: 'state/get', params: {} },
      { type: 'view/ready', extra: 1 },
      { type: 'eval', code: 'x' },
      null,
    ]) assert.equal(webviewToHostSchema.safeParse(bad).success, false, JSON.stringify(bad));
  });

  it('builds a valid sidebar state signed out and signed in', () => {
    const state = new TollgateState('http://gw.test');
    assert.ok(sidebarStateSchema.safeParse(state.sidebar()).success);
    state.session = sessionFromTokens('http://gw.test', { access_token: 'a.b.c', token_type: 'Bearer', email: 'dev@example.com' }, Date.now());
    state.me = { sub: 'u-1', email: 'dev@example.com', name: null, groups: ['eng'], policy: { matched: true, name: 'engineering', index: 0 }, available_models: [{ id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6' }], vscode_settings: {}, managed_settings_checksum: null };
    state.recent.add({ at: new Date().toISOString(), model: 'claude-sonnet-4-6', status: 200, inputTokens: 25, outputTokens: 11, requestId: 'req_1', costMicros: null, durationMs: 12 });
    const snap = state.sidebar();
    assert.deepEqual(snap.policy, { name: 'engineering', models: ['claude-sonnet-4-6'], available: true });
    assert.ok(hostToWebviewSchema.safeParse({ type: 'state/update', state: snap }).success);
    assert.equal(JSON.stringify(snap).includes('a.b.c'), false, 'the bearer never reaches the webview');
  });

  it('serves HTML with a nonce-only script CSP and no inline code', () => {
    const html = sidebarHtml({ nonce: 'N0nce', cspSource: 'vscode-resource:', scriptUri: 'vscode-resource:/w.js', styleUri: 'vscode-resource:/w.css', codiconsUri: 'vscode-resource:/c.css' });
    assert.match(html, /default-src 'none'/);
    assert.match(html, /script-src 'nonce-N0nce'/);
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
    assert.equal((html.match(/<script/g) ?? []).length, 1);
  });
});

describe('recent requests and their charges', () => {
  it('attaches the charge the gateway reports by request id, once, and formats fractions of a cent', async () => {
    const { RecentRequests } = await import('../../extension/src/platform/recent');
    const { microDollars } = await import('../../webview/src/views/dom');
    const recent = new RecentRequests();
    const row = (requestId: string | null) => ({ at: new Date().toISOString(), model: 'claude-sonnet-4-6', status: 200, inputTokens: 25, outputTokens: 300, requestId, costMicros: null, durationMs: 5 });
    recent.add(row('req_a'));
    recent.add(row('req_b'));
    recent.add(row(null)); // a gateway that sends no request-id: never looked up
    assert.equal(recent.pendingCosts(), 2);
    assert.equal(recent.setCosts(new Map([['req_a', 4575]])), true);
    assert.equal(recent.setCosts(new Map([['req_a', 9999]])), false, 'a known charge is not replaced');
    assert.deepEqual(recent.list().map((r) => r.costMicros), [null, null, 4575]);
    assert.equal(recent.pendingCosts(), 1);
    assert.deepEqual([microDollars(4575), microDollars(0), microDollars(10_000), microDollars(1_234_567)], ['$0.0046', '$0', '$0.01', '$1.23']);
  });
});

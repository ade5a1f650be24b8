/** Issue 19 item 3: the policy is visible: key and value, no proxy plumbing, VS Code settings listed. */
import assert from 'node:assert/strict';
import { claudeRules, policyAnnouncement, vscodeRules } from '../../extension/src/settings/policy-rules';
import { sanitizeManaged } from '../../extension/src/settings/sanitize';
import { TollgateState } from '../../extension/src/platform/state';
import { sidebarStateSchema } from '../../gateway-server/src/protocol/webview';

describe('extension policy view', () => {
  const longDeny = Array.from({ length: 40 }, (_, i) => `Read(./secrets/very/long/path/number-${i}.pem)`);
  const managed = {
    availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
    permissions: { deny: longDeny },
    env: { DISABLE_UPDATES: '1', ANTHROPIC_BASE_URL: 'http://127.0.0.1:4000', ANTHROPIC_AUTH_TOKEN: 'tgl-x' },
    model: 'claude-sonnet-4-6',
  };

  it('lists every rule with its value, whole, and none of the proxy\'s own keys', () => {
    const rules = claudeRules(sanitizeManaged(managed).settings);
    assert.deepEqual(rules.map((r) => r.key), ['availableModels', 'permissions.deny', 'env.DISABLE_UPDATES', 'model']);
    assert.equal(rules.find((r) => r.key === 'availableModels')!.value, '["claude-sonnet-4-6","claude-haiku-4-5"]');
    assert.equal(rules.find((r) => r.key === 'permissions.deny')!.value, JSON.stringify(longDeny), 'not clipped');
    assert.equal(rules.find((r) => r.key === 'env.DISABLE_UPDATES')!.value, '1');
    // Even unsanitised plumbing (an older record, a compatible gateway) is never shown as a rule.
    assert.equal(claudeRules(managed as never).some((r) => /ANTHROPIC_(BASE_URL|AUTH_TOKEN)/.test(r.key)), false);
  });

  it('lists the VS Code settings the policy changes, not the ones it may not touch', () => {
    assert.deepEqual(vscodeRules({ 'files.exclude': { '**/.env': true }, 'tollgate.gatewayUrl': 'http://evil', 'editor.tabSize': 2 }), [
      { key: 'files.exclude', value: '{"**/.env":true}', target: 'vscode' },
      { key: 'editor.tabSize', value: '2', target: 'vscode' },
    ]);
    assert.deepEqual(vscodeRules(null), []);
  });

  it('reaches the sidebar in the contract', () => {
    const state = new TollgateState('http://gw');
    state.claudeRules = claudeRules({ model: 'claude-sonnet-4-6' });
    state.vscodeRules = vscodeRules({ 'editor.tabSize': 2 });
    const s = sidebarStateSchema.parse(state.sidebar());
    assert.deepEqual(s.managedSettings.rules.map((r) => `${r.target}:${r.key}=${r.value}`), ['claude:model=claude-sonnet-4-6', 'vscode:editor.tabSize=2']);
  });

  it('never says "applied your policy" on a gateway without one', () => {
    assert.equal(policyAnnouncement([], false, false), undefined);
    assert.equal(policyAnnouncement([], true, false), 'No policy applies to you on this gateway: Tollgate has nothing to apply.');
    assert.equal(policyAnnouncement([], true, true), 'Tollgate policy is up to date.');
    assert.equal(policyAnnouncement(['VS Code settings changed: editor.tabSize'], false, true), 'Tollgate applied your policy. VS Code settings changed: editor.tabSize.');
  });
});

/** Managed settings: merge into the developer's file, remove exactly what was merged, never write secrets. */
import assert from 'node:assert/strict';
import { merge, unmerge, describe as describeRecord } from '../../extension/src/settings/merge';
import { assertNoSecrets, proxyEnv, sanitizeManaged } from '../../extension/src/settings/sanitize';
import { applyVscodeBlock, removeVscodeBlock } from '../../extension/src/settings/vscode-block';

describe('extension managed settings', () => {
  const mine = { model: 'claude-opus-4-8', permissions: { allow: ['Bash(npm test)'], deny: ['Read(./secrets)'] }, env: { MY_VAR: '1' } };
  const policy = { availableModels: ['claude-sonnet-4-6'], model: 'claude-sonnet-4-6', permissions: { deny: ['Read(./.env)', 'Read(./secrets)'] }, env: { DISABLE_UPDATES: '1' } };

  it('merges objects by key, unions arrays and overrides scalars', () => {
    const { settings, record } = merge(mine, policy, undefined, 'sha256:x');
    assert.deepEqual(settings, {
      model: 'claude-sonnet-4-6',
      permissions: { allow: ['Bash(npm test)'], deny: ['Read(./secrets)', 'Read(./.env)'] },
      env: { MY_VAR: '1', DISABLE_UPDATES: '1' },
      availableModels: ['claude-sonnet-4-6'],
    });
    assert.deepEqual(describeRecord(record).sort(), ['availableModels', 'env.DISABLE_UPDATES', 'model', 'permissions.deny']);
  });

  it('unmerge restores the developer file exactly', () => {
    const { settings, record } = merge(mine, policy, undefined, null);
    assert.deepEqual(unmerge(settings, record), mine);
    assert.deepEqual(unmerge(merge({}, policy, undefined, null).settings, merge({}, policy, undefined, null).record), {});
  });

  it('leaves alone what the developer changed after the merge', () => {
    const { settings, record } = merge(mine, policy, undefined, null);
    const edited = { ...settings, model: 'claude-haiku-4-5', env: { ...settings.env as object, LATER: 'x' } };
    const back = unmerge(edited, record);
    assert.equal(back.model, 'claude-haiku-4-5');
    assert.deepEqual(back.env, { MY_VAR: '1', LATER: 'x' });
  });

  it('re-merging a changed policy drops keys the policy no longer has', () => {
    const first = merge(mine, policy, undefined, 'a');
    const second = merge(first.settings, { env: { OTHER: '2' } }, first.record, 'b');
    assert.deepEqual(second.settings, { ...mine, env: { MY_VAR: '1', OTHER: '2' } });
    assert.deepEqual(unmerge(second.settings, second.record), mine);
  });

  it('drops credentials from the policy and points agents at the proxy with the local secret only', () => {
    const { settings, dropped } = sanitizeManaged({ apiKeyHelper: '/bin/key', env: { ANTHROPIC_AUTH_TOKEN: 'x', ANTHROPIC_API_KEY: 'y', MY_SECRET: 'z', ANTHROPIC_BASE_URL: 'u', OK: '1' }, model: 'm' });
    assert.deepEqual(settings, { env: { OK: '1' }, model: 'm' });
    assert.deepEqual(dropped.sort(), ['apiKeyHelper', 'env.ANTHROPIC_API_KEY', 'env.ANTHROPIC_AUTH_TOKEN', 'env.ANTHROPIC_BASE_URL', 'env.MY_SECRET']);
    assert.deepEqual(proxyEnv('http://127.0.0.1:1234', 'tgl-local'), { ANTHROPIC_BASE_URL: 'http://127.0.0.1:1234', ANTHROPIC_AUTH_TOKEN: 'tgl-local', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' });
    assert.throws(() => assertNoSecrets('{"env":{"T":"eyJhbGciOi.bearer"}}', ['eyJhbGciOi.bearer']));
    assert.doesNotThrow(() => assertNoSecrets('{}', ['eyJhbGciOi.bearer', undefined]));
  });

  it('applies the vscode block recording previous values and restores them on removal', async () => {
    const store = new Map<string, unknown>([['editor.tabSize', 2], ['files.autoSave', 'off']]);
    const access = { get: (k: string) => store.get(k), set: async (k: string, v: unknown) => void (v === undefined ? store.delete(k) : store.set(k, v)) };
    const r = await applyVscodeBlock({ 'editor.tabSize': 4, 'telemetry.telemetryLevel': 'off', 'tollgate.gatewayUrl': 'http://evil', 'x.apiToken': 's' }, [], access);
    assert.deepEqual(r.changed, ['editor.tabSize', 'telemetry.telemetryLevel']);
    assert.deepEqual(r.skipped, ['tollgate.gatewayUrl', 'x.apiToken']);
    store.set('files.autoSave', 'afterDelay');
    const again = await applyVscodeBlock({ 'editor.tabSize': 4 }, r.applied, access);
    assert.equal(store.has('telemetry.telemetryLevel'), false, 'a key the policy dropped is restored');
    assert.deepEqual(again.applied, [{ key: 'editor.tabSize', previous: 2, value: 4 }]);
    assert.deepEqual(await removeVscodeBlock(again.applied, access), ['editor.tabSize']);
    assert.deepEqual([...store.entries()].sort(), [['editor.tabSize', 2], ['files.autoSave', 'afterDelay']]);
  });
});

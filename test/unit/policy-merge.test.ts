import assert from 'node:assert/strict';
import { mergeCliSettings, mergeVscodeSettings } from '../../gateway-server/src/policy/merge';

type Doc = Record<string, unknown>;

/** Each row: what the catch-all says, what the specific policy says, what the caller gets. */
const table: [string, Doc, Doc, Doc][] = [
  ['allow-list availableModels is replaced', { availableModels: ['a', 'b'] }, { availableModels: ['c'] }, { availableModels: ['c'] }],
  ['permissions.allow is replaced', { permissions: { allow: ['Bash(ls)'] } }, { permissions: { allow: ['Read'] } }, { permissions: { allow: ['Read'] } }],
  [
    'permissions.deny and ask are unioned, base first, no duplicates',
    { permissions: { deny: ['Read(./.env)', 'WebFetch'], ask: ['Bash(git push:*)'] } },
    { permissions: { deny: ['WebFetch', 'Bash(curl:*)'], ask: ['Edit'] } },
    { permissions: { deny: ['Read(./.env)', 'WebFetch', 'Bash(curl:*)'], ask: ['Bash(git push:*)', 'Edit'] } },
  ],
  [
    'other permissions keys are replaced, untouched ones kept',
    { permissions: { defaultMode: 'plan', deny: ['x'], disableBypassPermissionsMode: 'disable' } },
    { permissions: { defaultMode: 'acceptEdits' } },
    { permissions: { defaultMode: 'acceptEdits', deny: ['x'], disableBypassPermissionsMode: 'disable' } },
  ],
  ['disabledMcpjsonServers is unioned', { disabledMcpjsonServers: ['a'] }, { disabledMcpjsonServers: ['b', 'a'] }, { disabledMcpjsonServers: ['a', 'b'] }],
  [
    'deniedMcpServers is unioned by value (objects)',
    { deniedMcpServers: [{ serverName: 'x' }] },
    { deniedMcpServers: [{ serverName: 'x' }, { serverName: 'y' }] },
    { deniedMcpServers: [{ serverName: 'x' }, { serverName: 'y' }] },
  ],
  [
    'blockedMarketplaces is unioned',
    { blockedMarketplaces: [{ source: 'github', repo: 'a/b' }] },
    { blockedMarketplaces: [{ source: 'github', repo: 'c/d' }] },
    { blockedMarketplaces: [{ source: 'github', repo: 'a/b' }, { source: 'github', repo: 'c/d' }] },
  ],
  [
    'every hooks event array is unioned; events on one side kept',
    { hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'audit.sh' }] }], Stop: [{ hooks: [{ type: 'command', command: 's' }] }] } },
    { hooks: { PreToolUse: [{ matcher: 'Edit', hooks: [{ type: 'command', command: 'lint.sh' }] }], SessionStart: [{ hooks: [{ type: 'command', command: 'hi' }] }] } },
    {
      hooks: {
        PreToolUse: [
          { matcher: 'Bash', hooks: [{ type: 'command', command: 'audit.sh' }] },
          { matcher: 'Edit', hooks: [{ type: 'command', command: 'lint.sh' }] },
        ],
        Stop: [{ hooks: [{ type: 'command', command: 's' }] }],
        SessionStart: [{ hooks: [{ type: 'command', command: 'hi' }] }],
      },
    },
  ],
  ['env is shallow-merged, specific wins per key', { env: { A: '1', B: '2' } }, { env: { B: '3', C: '4' } }, { env: { A: '1', B: '3', C: '4' } }],
  ['modelOverrides is shallow-merged', { modelOverrides: { a: 'x' } }, { modelOverrides: { b: 'y' } }, { modelOverrides: { a: 'x', b: 'y' } }],
  ['skillOverrides is shallow-merged', { skillOverrides: { s: { on: true } } }, { skillOverrides: { t: { on: false } } }, { skillOverrides: { s: { on: true }, t: { on: false } } }],
  ['other scalars are replaced', { cleanupPeriodDays: 30, model: 'a' }, { cleanupPeriodDays: 7 }, { cleanupPeriodDays: 7, model: 'a' }],
  ['other objects are replaced whole', { sandbox: { enabled: true, network: { allowedDomains: ['a'] } } }, { sandbox: { enabled: false } }, { sandbox: { enabled: false } }],
  ['keys only in the base are kept', { skipWebFetchPreflight: true }, {}, { skipWebFetchPreflight: true }],
  ['keys only in the specific policy are added', {}, { permissions: { deny: ['x'] } }, { permissions: { deny: ['x'] } }],
];

describe('policy merge onto the catch-all', () => {
  for (const [name, base, specific, expected] of table) {
    it(name, () => {
      const frozen = structuredClone(base);
      assert.deepEqual(mergeCliSettings(base, specific), expected);
      assert.deepEqual(base, frozen, 'base not mutated');
    });
  }
  it('vscode blocks are shallow-merged', () => {
    assert.deepEqual(mergeVscodeSettings({ 'files.exclude': { '**/.env': true }, 'a.b': 1 }, { 'a.b': 2 }), { 'files.exclude': { '**/.env': true }, 'a.b': 2 });
  });
});

/**
 * The workspace file outlives the window (issue 19 item 1): nothing window-specific in it, an
 * older version's proxy env undone on the next write, and sign-out leaves the folder's tree as it
 * was before sign-in (no empty `.claude/`, no `{}` `.vscode/settings.json`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { removeClaudeSettings, writeClaudeSettings } from '../../extension/src/settings/claude-file';
import { isEmptySettingsText, removeEmptyVscodeFiles, vscodeFilesBefore } from '../../extension/src/settings/leftovers';
import { merge } from '../../extension/src/settings/merge';

function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(root, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

describe('extension workspace file (.claude/settings.local.json)', () => {
  let root: string;
  const policy = { availableModels: ['claude-sonnet-4-6'], permissions: { deny: ['Read(./.env)'] }, env: { DISABLE_UPDATES: '1' } };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tollgate-wsfile-'));
    writeFileSync(join(root, 'README.md'), 'x');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes only the policy: no loopback port or window secret for claude run outside the editor', async () => {
    const keys = await writeClaudeSettings(root, policy, 'sha256:a', []);
    assert.deepEqual(keys.sort(), ['availableModels', 'env.DISABLE_UPDATES', 'permissions.deny']);
    const text = readFileSync(join(root, '.claude', 'settings.local.json'), 'utf8');
    assert.deepEqual(JSON.parse(text), policy);
    assert.doesNotMatch(text, /127\.0\.0\.1|ANTHROPIC_BASE_URL|ANTHROPIC_AUTH_TOKEN|tgl-/);
  });

  it('two windows on one folder write the same bytes (nothing to fight over)', async () => {
    await writeClaudeSettings(root, policy, 'sha256:a', []);
    const first = readFileSync(join(root, '.claude', 'settings.local.json'), 'utf8');
    await writeClaudeSettings(root, policy, 'sha256:a', []);
    assert.equal(readFileSync(join(root, '.claude', 'settings.local.json'), 'utf8'), first);
  });

  it('undoes the proxy env an older version wrote, keeping the developer\'s own keys', async () => {
    mkdirSync(join(root, '.claude'));
    const mine = { model: 'claude-haiku-4-5', env: { MY_VAR: 'mine' } };
    const old = merge(mine, { ...policy, env: { ...policy.env, ANTHROPIC_BASE_URL: 'http://127.0.0.1:40123', ANTHROPIC_AUTH_TOKEN: 'tgl-dead-window' } }, undefined, 'sha256:a');
    writeFileSync(join(root, '.claude', 'settings.local.json'), JSON.stringify(old.settings));
    writeFileSync(join(root, '.claude', 'tollgate-applied.json'), JSON.stringify(old.record));
    await writeClaudeSettings(root, policy, 'sha256:a', []);
    const now = readJson(join(root, '.claude', 'settings.local.json'));
    assert.deepEqual(now.env, { MY_VAR: 'mine', DISABLE_UPDATES: '1' });
    assert.equal(now.model, 'claude-haiku-4-5');
    await removeClaudeSettings(root);
    assert.deepEqual(readJson(join(root, '.claude', 'settings.local.json')), mine);
    assert.deepEqual(tree(root), ['.claude/', '.claude/settings.local.json', 'README.md'], 'the developer\'s folder stays');
  });

  it('sign-out leaves the tree exactly as before sign-in (no empty .claude/)', async () => {
    const before = tree(root);
    await writeClaudeSettings(root, policy, 'sha256:a', []);
    await writeClaudeSettings(root, { env: { OTHER: '2' } }, 'sha256:b', []); // a policy change in between
    assert.equal(await removeClaudeSettings(root), 1);
    assert.deepEqual(tree(root), before);
  });

  it('a gateway with no managed settings creates nothing', async () => {
    const before = tree(root);
    assert.deepEqual(await writeClaudeSettings(root, {}, null, []), []);
    assert.deepEqual(tree(root), before);
  });

  it('a policy that shrinks to nothing takes its files away again', async () => {
    const before = tree(root);
    await writeClaudeSettings(root, policy, 'sha256:a', []);
    await writeClaudeSettings(root, {}, null, []);
    assert.deepEqual(tree(root), before);
  });
});

describe('extension leftovers (.vscode/settings.json)', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'tollgate-vscode-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('removes the {} file and folder VS Code left behind when they were not there before', async () => {
    const before = await vscodeFilesBefore([root]);
    mkdirSync(join(root, '.vscode'));
    writeFileSync(join(root, '.vscode', 'settings.json'), '{\n}\n');
    await removeEmptyVscodeFiles(before);
    assert.deepEqual(tree(root), []);
  });

  it('keeps a settings file or folder the developer had, and one with settings left in it', async () => {
    mkdirSync(join(root, '.vscode'));
    writeFileSync(join(root, '.vscode', 'launch.json'), '{}');
    const before = await vscodeFilesBefore([root]);
    writeFileSync(join(root, '.vscode', 'settings.json'), '{"editor.tabSize": 2}');
    await removeEmptyVscodeFiles(before);
    assert.deepEqual(tree(root), ['.vscode/', '.vscode/launch.json', '.vscode/settings.json']);
    writeFileSync(join(root, '.vscode', 'settings.json'), '{}');
    const had = await vscodeFilesBefore([root]);
    await removeEmptyVscodeFiles(had);
    assert.ok(existsSync(join(root, '.vscode', 'settings.json')), 'an empty file the developer had stays');
  });

  it('reads JSONC emptiness', () => {
    assert.equal(isEmptySettingsText('{\n  // nothing\n}\n'), true);
    assert.equal(isEmptySettingsText('{ /* x */ }'), true);
    assert.equal(isEmptySettingsText('{"a":1}'), false);
  });
});

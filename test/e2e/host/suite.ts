/**
 * Runs inside the real extension host (code-server): the installed extension's commands,
 * sign-in through the device flow (the outer test completes the browser leg), tokens kept out
 * of files, the workspace's Claude Code settings written and removed, a request through the
 * proxy with the environment agents get, the Codex profile "Set Up Codex" writes.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import * as vscode from 'vscode';

interface Api {
  activationMs: number;
  proxyUrl(): string | undefined;
  ready: Promise<void>;
}
const extra = (globalThis as { __tollgateHostResults?: Record<string, unknown> }).__tollgateHostResults ?? {};

describe('Tollgate in the extension host', () => {
  let api: Api;
  let vscodeBefore = false;
  const ws = () => vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  const localFile = () => join(ws(), '.claude', 'settings.local.json');
  const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

  it('activates and registers its commands and views', async () => {
    const ext = vscode.extensions.getExtension<Api>('tollgate.tollgate');
    assert.ok(ext, 'extension installed');
    api = ext.isActive ? ext.exports : await ext.activate();
    await api.ready;
    extra.activationMs = api.activationMs;
    extra.readyMs = (api as Api & { readyMs(): number | undefined }).readyMs();
    const commands = await vscode.commands.getCommands(true);
    for (const c of ['tollgate.signIn', 'tollgate.signOut', 'tollgate.showSpend', 'tollgate.refreshPolicy', 'tollgate.openGatewayStatus', 'tollgate.setUpCodex']) assert.ok(commands.includes(c), c);
    assert.match(api.proxyUrl() ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('signs in with the device flow and writes the policy, never the proxy env or the bearer', async () => {
    vscodeBefore = existsSync(join(ws(), '.vscode', 'settings.json'));
    // The developer's own local settings, which must survive sign-in and sign-out untouched.
    mkdirSync(join(ws(), '.claude'), { recursive: true });
    writeFileSync(localFile(), JSON.stringify({ model: 'claude-haiku-4-5', env: { MY_VAR: 'mine' } }, null, 2));
    // Under test VS Code answers every modal with Cancel, so the code prompt is skipped here; the
    // UI suite clicks it.
    const result = await vscode.commands.executeCommand('tollgate.signIn', { noPrompt: true });
    assert.equal(result, undefined, 'the command hands no token to other extensions');
    await vscode.commands.executeCommand('tollgate.refreshPolicy');
    const text = readFileSync(localFile(), 'utf8');
    const local = JSON.parse(text);
    assert.equal(local.model, 'claude-haiku-4-5');
    assert.equal(local.env.MY_VAR, 'mine');
    // The file outlives the window: no loopback port or window secret in it (claude run there
    // after the editor closed would hang on a dead port).
    assert.equal(local.env.ANTHROPIC_BASE_URL, undefined);
    assert.equal(local.env.ANTHROPIC_AUTH_TOKEN, undefined);
    assert.doesNotMatch(text, /127\.0\.0\.1|tgl-/);
    // The policy (gateway's managed settings for group engineering) merged in.
    assert.deepEqual(local.availableModels, ['claude-sonnet-4-6', 'claude-haiku-4-5']);
    assert.deepEqual(local.permissions, { deny: ['Read(./.env)'] });
    assert.equal(local.env.DISABLE_UPDATES, '1');
    // Its `vscode:` block applied to the workspace settings.
    assert.deepEqual(vscode.workspace.getConfiguration().inspect('files.exclude')?.workspaceValue, { '**/.env': true });
    // Gateway bearers are JWTs; none may appear in workspace files.
    assert.doesNotMatch(text, JWT, 'no gateway bearer in settings.local.json');
    assert.ok(existsSync(join(ws(), '.claude', 'tollgate-applied.json')));
    for (const f of [join(ws(), '.claude', 'tollgate-applied.json'), join(ws(), '.vscode', 'settings.json')]) {
      if (existsSync(f)) assert.doesNotMatch(readFileSync(f, 'utf8'), JWT, `no bearer in ${f}`);
    }
  });

  it('proxies a request with the local secret agents get, the bearer swapped in', async () => {
    // What an agent in this window's terminal sees (environmentVariableCollection).
    const out = join(ws(), '..', `terminal-env-${process.pid}.json`);
    const term = vscode.window.createTerminal({ name: 'env probe', shellPath: '/bin/sh', shellArgs: ['-c', `printf '{"ANTHROPIC_BASE_URL":"%s","ANTHROPIC_AUTH_TOKEN":"%s","TOLLGATE_PROXY_KEY":"%s"}' "$ANTHROPIC_BASE_URL" "$ANTHROPIC_AUTH_TOKEN" "$TOLLGATE_PROXY_KEY" > ${out}.part && mv ${out}.part ${out}`] });
    for (let i = 0; i < 300 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
    term.dispose();
    const env = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(env.ANTHROPIC_BASE_URL, api.proxyUrl());
    assert.match(env.ANTHROPIC_AUTH_TOKEN, /^tgl-/);
    // Codex's profile ("Tollgate: Set Up Codex") reads the same local secret from TOLLGATE_PROXY_KEY.
    assert.equal(env.TOLLGATE_PROXY_KEY, env.ANTHROPIC_AUTH_TOKEN);
    const res = await fetch(`${env.ANTHROPIC_BASE_URL}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.ANTHROPIC_AUTH_TOKEN}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { content: { text: string }[] };
    assert.equal(body.content[0]!.text, 'Hello from the mock upstream.');
    const denied = await fetch(`${env.ANTHROPIC_BASE_URL}/v1/messages`, { method: 'POST', headers: { authorization: 'Bearer tgl-not-this-window', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(denied.status, 401, 'the proxy accepts only this window\'s secret');
  });

  it('"Set Up Codex" writes a Codex profile pointing at this window\'s proxy, with no credential in it', async () => {
    await vscode.commands.executeCommand('tollgate.setUpCodex', { makeDefault: false });
    const file = join(process.env.CODEX_HOME || join(homedir(), '.codex'), 'tollgate-vscode.config.toml');
    const text = readFileSync(file, 'utf8');
    assert.ok(text.includes(`base_url = "${api.proxyUrl()}/v1"`), text);
    assert.match(text, /^env_key = "TOLLGATE_PROXY_KEY"$/m);
    assert.match(text, /^wire_api = "responses"$/m);
    assert.doesNotMatch(text, JWT, 'no gateway bearer');
    assert.doesNotMatch(text, /tgl-/, 'no local secret');
  });

  it('signs out, removing exactly what it applied', async () => {
    await vscode.commands.executeCommand('tollgate.signOut');
    // Removal runs on the session-change event; give it a moment to finish writing.
    for (let i = 0; i < 50 && existsSync(join(ws(), '.claude', 'tollgate-applied.json')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(JSON.parse(readFileSync(localFile(), 'utf8')), { model: 'claude-haiku-4-5', env: { MY_VAR: 'mine' } });
    assert.equal(existsSync(join(ws(), '.claude', 'tollgate-applied.json')), false);
    assert.equal(vscode.workspace.getConfiguration().inspect('files.exclude')?.workspaceValue, undefined, 'workspace setting restored');
    assert.equal(existsSync(join(ws(), '.vscode', 'settings.json')), vscodeBefore, 'no empty .vscode/settings.json left behind');
  });
});

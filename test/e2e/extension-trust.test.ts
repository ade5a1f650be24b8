/**
 * Workspace Trust in the real host: code-server with Workspace Trust ON, the packaged VSIX, a
 * real gateway and test IdP. The folder is a "cloned repository" whose `.vscode/settings.json`
 * tries to point the extension at another gateway. Opened untrusted: sign-in still goes to the
 * developer's own gateway, yet nothing is written into the folder, and a terminal (which could
 * carry the proxy env) needs trust first. Trust granted in the same window: the managed settings
 * appear (0600) and a new terminal gets the proxy env.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertHostInstalled, startCodeServer, type CodeServer } from '../support/code-server';
import { openWorkbench, type Workbench } from '../support/workbench';
import { completeDeviceSignIn } from '../support/test-idp';
import { acceptCodePrompt, OUT_DIR, packageExtension, startE2eGateway, type E2eGateway } from './support-extension';

const STATUS = '[id="tollgate.tollgate.budget"]';
const HOSTILE = { 'tollgate.gatewayUrl': 'http://attacker.invalid:9' };

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('VS Code extension: Workspace Trust in code-server + Chromium', function () {
  this.timeout(300_000);
  let gw: E2eGateway;
  let cs: CodeServer;
  let wb: Workbench;

  before(async () => {
    assertHostInstalled();
    const vsix = packageExtension();
    gw = await startE2eGateway();
    cs = await startCodeServer({ vsix: [vsix], workspaceTrust: true, settings: { 'tollgate.gatewayUrl': gw.url, 'security.workspace.trust.startupPrompt': 'never' } });
    mkdirSync(join(cs.workspace, '.vscode'));
    writeFileSync(join(cs.workspace, '.vscode', 'settings.json'), `${JSON.stringify(HOSTILE, null, 2)}\n`);
    wb = await openWorkbench(cs, { outDir: OUT_DIR, recordExternal: true });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') await wb?.screenshot('trust-failure').catch(() => {});
  });
  after(async () => {
    await wb?.close().catch(() => {});
    await cs?.stop();
    await gw?.close();
  });

  /** Runs a shell line in a new terminal and returns what it wrote to `name` in the workspace. */
  async function terminalEcho(name: string, expr: string): Promise<string> {
    await wb.newTerminal();
    const out = join(cs.workspace, name);
    await wb.page.keyboard.type(`echo "${expr}" > ${out}.part && mv ${out}.part ${out}\n`);
    await waitForFile(out, 30_000);
    return readFileSync(out, 'utf8').trim();
  }

  it('writes nothing and exports no proxy env in an untrusted folder, and does both once trusted', async () => {
    const { page } = wb;
    // Not trusted: no start-up prompt (setting below), the window opens in Restricted Mode.
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor({ timeout: 90_000 });
    const status = page.locator(STATUS);
    await status.waitFor({ timeout: 90_000 });
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('Sign in'), STATUS, { timeout: 30_000 });

    // Sign-in goes to the developer's gateway, not the one the folder's settings name.
    await wb.runCommand('Tollgate: Sign In');
    const code = await acceptCodePrompt(wb);
    const leg = await completeDeviceSignIn(`${gw.url}/device?user_code=${code}`, { login: 'alice' });
    assert.equal(leg.status, 200, leg.html.slice(0, 300));
    await page.waitForFunction((sel) => /\$[\d.]+ \/ \$50 · day/.test(document.querySelector(sel)?.textContent ?? ''), STATUS, { timeout: 60_000 });

    // The policy was fetched (its notification is the signal) and nothing was written for it.
    const notice = await wb.toast(/This folder is not trusted|Tollgate applied your policy/, 60_000);
    await wb.screenshot('trust-01-untrusted-signed-in');
    assert.equal(existsSync(join(cs.workspace, '.claude')), false, 'no .claude folder in an untrusted workspace');
    assert.deepEqual(JSON.parse(readFileSync(join(cs.workspace, '.vscode', 'settings.json'), 'utf8')), HOSTILE, 'workspace settings untouched');
    assert.match(notice, /This folder is not trusted, so Tollgate did not write managed settings/);

    // No terminal runs in an untrusted folder (so none can carry the proxy env): VS Code asks
    // for trust first. The developer grants it there, in the same window.
    await wb.runCommand('Terminal: Create New Terminal');
    const ask = page.locator('.monaco-dialog-box', { hasText: 'Do you trust the authors' });
    await ask.waitFor({ timeout: 30_000 });
    await wb.screenshot('trust-02-terminal-asks-for-trust');
    await ask.locator('.monaco-button', { hasText: 'Trust Folder & Continue' }).click();
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor({ state: 'detached', timeout: 30_000 });
    const local = join(cs.workspace, '.claude', 'settings.local.json');
    await waitForFile(local, 60_000);
    await wb.screenshot('trust-03-trusted');
    const settings = JSON.parse(readFileSync(local, 'utf8'));
    // No window-specific proxy env in a file that outlives the window: terminals carry it.
    assert.equal(settings.env?.ANTHROPIC_BASE_URL, undefined);
    assert.equal(settings.env?.ANTHROPIC_AUTH_TOKEN, undefined);
    assert.deepEqual(settings.availableModels, ['claude-sonnet-4-6', 'claude-haiku-4-5']);
    assert.equal(statSync(local).mode & 0o777, 0o600, 'the file holding the proxy secret is private');
    assert.deepEqual(readdirSync(join(cs.workspace, '.claude')).sort(), ['settings.local.json', 'tollgate-applied.json']);
    const echoed = await terminalEcho('env-trusted.txt', 'base=${ANTHROPIC_BASE_URL:-unset}');
    assert.match(echoed, /^base=http:\/\/127\.0\.0\.1:\d+$/);
    // Still signed in to the developer's gateway: trust did not let the folder's URL in.
    assert.match(await page.locator(STATUS).innerText(), /\$[\d.]+ \/ \$50 · day/);
  });
});

/**
 * UI suite: the packaged VSIX installed into code-server, driven in Debian's Chromium as a
 * developer would: the Accounts badge, sign in from the command palette through the code modal
 * against a real gateway and the test OIDC provider (browser leg in a separate Chromium, as the
 * developer's own browser), the budget in the status bar and its menu, spend and policy in the
 * sidebar webview, a request from the integrated terminal through the proxy, a refused request,
 * switching to a second gateway and back, sign-out restoring the folder's file tree, no CSP
 * violation in any webview, and the real Claude Code CLI in the folder after the window closed.
 * Screenshots (dark and light) go to test-output/extension-e2e/.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { assertHostInstalled, startCodeServer, type CodeServer } from '../support/code-server';
import { openBrowser, openWorkbench, THEME_SETTINGS, type Workbench } from '../support/workbench';
import { acceptCodePrompt, OUT_DIR, packageExtension, startE2eGateway, type E2eGateway } from './support-extension';
import { runClaude } from '../support/claude-cli';

const STATUS = '[id="tollgate.tollgate.budget"]';
const BUDGET = /\$[\d.]+ \/ \$50 · day/;

/** Polls the file system (the terminal's side effect) until the file exists. */
async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear: the terminal request produced no reply`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The folder's file tree with each file's content hash: what sign-out must give back. */
function fileTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(`${p}/`, ...fileTree(root, p));
    else out.push(`${p} ${createHash('sha256').update(readFileSync(join(root, p))).digest('hex').slice(0, 16)}`);
  }
  return out;
}

/** The browser leg: confirm the code on the gateway page, log in and consent at the IdP. */
async function approveInBrowser(page: Page, gatewayUrl: string, login: string): Promise<string> {
  for (let step = 0; step < 6; step++) {
    await page.waitForLoadState('domcontentloaded');
    const url = new URL(page.url());
    const body = await page.locator('body').innerText();
    if (url.origin === gatewayUrl && !url.pathname.startsWith('/device')) return body;
    if (await page.locator('input[name=login]').count()) await page.fill('input[name=login]', login);
    if (await page.locator('input[name=password]').count()) await page.fill('input[name=password]', 'any-password');
    const submit = page.locator('button[type=submit]:not([formaction*="deny"]), input[type=submit]').first();
    await Promise.all([page.waitForNavigation({ timeout: 15_000 }).catch(() => {}), submit.click()]);
  }
  return page.locator('body').innerText();
}

describe('VS Code extension: UI in code-server + Chromium', function () {
  this.timeout(300_000);
  let gw: E2eGateway;
  let gw2: E2eGateway;
  let cs: CodeServer;
  let wb: Workbench;
  let treeBefore: string[];

  before(async () => {
    assertHostInstalled();
    const vsix = packageExtension();
    gw = await startE2eGateway();
    gw2 = await startE2eGateway();
    cs = await startCodeServer({ vsix: [vsix], settings: { 'tollgate.gatewayUrl': gw.url, ...THEME_SETTINGS } });
    wb = await openWorkbench(cs, { outDir: OUT_DIR, recordExternal: true });
  });
  // Each step continues from the last one's state: after a failure the rest fail at once with
  // a pointer to it instead of timing out one by one.
  let broken: string | undefined;
  beforeEach(() => {
    if (broken) throw new Error(`not run: the earlier step "${broken}" failed`);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    broken ??= this.currentTest.title;
    await wb?.screenshot('ui-failure').catch(() => {});
  });
  after(async () => {
    await wb?.close().catch(() => {});
    await cs?.stop();
    await gw?.close();
    await gw2?.close();
  });

  /** Clicks the budget in the status bar and returns the menu's rows. */
  async function openMenu(): Promise<string> {
    await wb.page.locator(STATUS).click();
    const rows = wb.page.locator('.quick-input-widget .quick-input-list');
    await wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: /Sign Out|Sign In/ }).first().waitFor({ timeout: 15_000 });
    return rows.innerText();
  }
  async function pickMenu(label: string): Promise<void> {
    await wb.page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first().click();
  }
  /** "Switch Gateway…" from the menu, typing the new address into the input box. */
  async function switchTo(url: string): Promise<void> {
    await openMenu();
    await pickMenu('Switch Gateway');
    const input = wb.page.locator('.quick-input-widget input');
    await wb.page.locator('.quick-input-widget', { hasText: 'Tollgate: Switch Gateway' }).waitFor({ timeout: 15_000 });
    await input.fill(url);
    await wb.page.keyboard.press('Enter');
  }
  const statusText = () => wb.page.locator(STATUS).innerText().then((t) => t.trim());
  const waitForBudget = () =>
    wb.page.waitForFunction((sel) => /\$[\d.]+ \/ \$50 · day/.test(document.querySelector(sel)?.textContent ?? ''), STATUS, { timeout: 60_000 });

  it('signed out: the Accounts badge asks to sign in; the code modal copies the code and opens the page', async () => {
    const { page } = wb;
    const status = page.locator(STATUS);
    await status.waitFor({ timeout: 90_000 });
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('Sign in'), STATUS, { timeout: 30_000 });
    treeBefore = fileTree(cs.workspace);
    await wb.screenshotThemes('01-signed-out-status-bar');

    // The Accounts icon carries a numbered badge and a "Sign in with Tollgate" entry.
    const accounts = page.locator('.part.activitybar li.action-item', { has: page.locator('.codicon-accounts-view-bar-icon') });
    await accounts.locator('.badge-content', { hasText: '1' }).waitFor({ timeout: 30_000 });
    await accounts.click();
    await page.locator('.monaco-menu .action-label', { hasText: 'Sign in with Tollgate to use Tollgate' }).waitFor({ timeout: 15_000 });
    await wb.screenshotThemes('02-accounts-badge-sign-in-request');
    await page.keyboard.press('Escape');

    await wb.runCommand('Tollgate: Sign In');
    const code = await acceptCodePrompt(wb, '03-sign-in-code-modal');
    // The modal copied the code to the clipboard, like VS Code's own GitHub sign-in.
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code);
    await wb.screenshotThemes('04-sign-in-progress-notification');
    assert.match(await statusText(), /Signing in…/);
    // Still pending: the badge stays until the session exists.
    assert.equal((await accounts.locator('.badge-content').innerText()).trim(), '1');
    // The extension asked the editor to open the verification page (code-server rewrites
    // loopback URLs to its own proxy path, so the developer's browser is pointed at the gateway).
    await page.waitForFunction((c) => ((window as unknown as { __tollgateOpened?: string[] }).__tollgateOpened ?? []).some((u) => u.includes(c)), code, { timeout: 15_000 });
    const browser = await openBrowser();
    try {
      await browser.page.goto(`${gw.url}/device?user_code=${code}`);
      assert.equal(await browser.page.inputValue('input[name=user_code]'), code, 'the page shows the code from the editor');
      const done = await approveInBrowser(browser.page, gw.url, 'alice');
      await browser.page.screenshot({ path: join(OUT_DIR, '05-browser-leg-done.png') });
      assert.match(done, /signed in|you can close|success/i);
    } finally {
      await browser.close();
    }
    // Signed in: the budget replaces "Signing in…", the code notification and the badge go.
    await waitForBudget();
    await page.locator('.notifications-toasts .notification-toast', { hasText: code }).waitFor({ state: 'detached', timeout: 10_000 });
    await accounts.locator('.badge-content').waitFor({ state: 'hidden', timeout: 15_000 });
  });

  it('the status-bar menu shows usage and reset and opens the sidebar, which proxies a terminal request', async () => {
    const { page } = wb;
    const budget = await statusText();
    // The e2e gateway caps everyone at $50 a day (support-extension.ts).
    assert.match(budget, BUDGET);
    await wb.screenshotThemes('06-signed-in-status-bar');

    const menu = await openMenu();
    assert.match(menu, /Day: \$[\d.]+ of \$50 \(\d+ %\)[\s\S]*resets /);
    assert.match(menu, /Open Sidebar[\s\S]*Refresh Policy[\s\S]*Switch Gateway…[\s\S]*Sign Out/);
    await wb.screenshotThemes('07-status-bar-menu');
    await pickMenu('Open Sidebar');
    const view = wb.webview();
    await view.locator('#identity').waitFor({ timeout: 60_000 });
    assert.match(await view.locator('#identity').innerText(), /alice|Alice/i);
    // The same budget sentence as the status bar (which adds only its icon).
    const sidebarStatus = (await view.locator('#status-text').innerText()).trim();
    assert.match(sidebarStatus, BUDGET);
    assert.equal(budget.slice(-sidebarStatus.length), sidebarStatus);
    assert.match(await view.locator('#policy-name').innerText(), /engineering/);
    assert.match(await view.locator('#models').innerText(), /claude-sonnet-4-6[\s\S]*claude-haiku-4-5/);
    assert.match(await view.locator('#groups').innerText(), /engineering/);
    await wb.screenshotThemes('08-sidebar-spend-and-policy');

    // A new integrated terminal carries the proxy env; send a request from it with curl. Replies
    // go outside the folder, whose file tree sign-out must restore.
    const before = gw.mock.requests.length;
    await wb.newTerminal();
    const out = join(cs.root, 'proxy-reply.json');
    // Written under another name and renamed when complete: the file appears whole or not at all.
    await page.keyboard.type(
      `curl -s -o ${out}.part -w '%{http_code}' "$ANTHROPIC_BASE_URL/v1/messages" -H "authorization: Bearer $ANTHROPIC_AUTH_TOKEN" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d '{"model":"claude-sonnet-4-6","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' && mv ${out}.part ${out}\n`,
    );
    await waitForFile(out, 60_000);
    assert.match(readFileSync(out, 'utf8'), /Hello from the mock upstream/);
    assert.equal(gw.mock.requests.length, before + 1);
    assert.equal(gw.mock.requests.at(-1)!.headers.authorization, undefined);
    // The sidebar lists it among recent requests, with what the gateway charged for it
    // (25 in + 11 out of Sonnet = 240 µ$, from GET /v1/me/requests once the usage refreshes).
    await view.locator('#recent-table').waitFor({ timeout: 30_000 });
    await view.locator('#recent-table', { hasText: '$0.0002' }).waitFor({ timeout: 30_000 });
    assert.match(await view.locator('#recent-table').innerText(), /claude-sonnet-4-6[\s\S]*25 in \/ 11 out[\s\S]*\$0\.0002[\s\S]*200/);
    await wb.screenshotThemes('09-terminal-request-and-recent');

    // The policy view: each rule with its value, the VS Code settings it changed, no proxy keys.
    const claudeRules = await view.locator('#claude-rules').innerText();
    assert.match(claudeRules, /availableModels = \["claude-sonnet-4-6","claude-haiku-4-5"\]/);
    assert.match(claudeRules, /permissions\.deny = \["Read\(\.\/\.env\)"\]/);
    assert.match(claudeRules, /From policy engineering, managed by your organisation/);
    assert.doesNotMatch(claudeRules, /ANTHROPIC_BASE_URL|ANTHROPIC_AUTH_TOKEN/);
    assert.match(await view.locator('#vscode-rules').innerText(), /files\.exclude = \{"\*\*\/\.env":true\}/);
    await wb.screenshotThemes('10-policy-rules');

    // An agent's request the gateway refuses (a model the policy does not offer): the window
    // says so with the gateway's own sentence, and the sidebar shows the block.
    const refused = join(cs.root, 'refused-reply.json');
    await page.locator('.terminal-wrapper.active .xterm-helper-textarea').focus();
    await page.keyboard.type(
      `curl -s -o ${refused}.part "$ANTHROPIC_BASE_URL/v1/messages" -H "authorization: Bearer $ANTHROPIC_AUTH_TOKEN" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d '{"model":"claude-not-offered","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' && mv ${refused}.part ${refused}\n`,
    );
    await waitForFile(refused, 60_000);
    const gatewaySaid = JSON.parse(readFileSync(refused, 'utf8')).error.message as string;
    assert.match(gatewaySaid, /claude-not-offered/);
    const notice = await wb.toast(/Tollgate blocked an agent request/, 30_000);
    assert.ok(notice.includes(gatewaySaid.slice(1)), `the notification carries the gateway's sentence: ${notice}`);
    await view.locator('#block', { hasText: 'Blocked:' }).waitFor({ timeout: 30_000 });
    assert.ok((await view.locator('#block').innerText()).includes(gatewaySaid.slice(1)));
    await page.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').includes('blocked'), STATUS, { timeout: 30_000 });
    await wb.screenshotThemes('11-blocked-request');
  });

  it('the menu refreshes the policy and switches gateways: "Signed out of X, signing in to Y"', async () => {
    await openMenu();
    await pickMenu('Refresh Policy');
    await wb.toast(/Tollgate policy is up to date/, 30_000);

    await switchTo(gw2.url);
    const said = await wb.toast(/Signed out of/, 30_000);
    assert.ok(said.includes(`Signed out of ${gw.url}, signing in to ${gw2.url}.`), said);
    const code = await acceptCodePrompt(wb, '12-switch-gateway-signing-in');
    const leg = await openBrowser();
    try {
      await leg.page.goto(`${gw2.url}/device?user_code=${code}`);
      assert.match(await approveInBrowser(leg.page, gw2.url, 'alice'), /signed in|you can close|success/i);
    } finally {
      await leg.close();
    }
    await waitForBudget();
    await wb.webview().locator('#account', { hasText: `Gateway: ${gw2.url}` }).waitFor({ timeout: 30_000 });
    await wb.screenshotThemes('13-switched-gateway');
  });

  it('sign-out from the menu leaves the folder as it was before sign-in (file tree compared)', async () => {
    assert.ok(existsSync(join(cs.workspace, '.claude', 'settings.local.json')), 'the policy was written while signed in');
    await openMenu();
    await pickMenu('Sign Out');
    await wb.toast(/Signed out of Tollgate/, 30_000);
    assert.deepEqual(fileTree(cs.workspace), treeBefore);
    await wb.page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('Sign in'), STATUS, { timeout: 30_000 });
    const menu = await openMenu();
    assert.match(menu, /Sign In[\s\S]*Switch Gateway…/);
    await wb.screenshotThemes('14-signed-out-menu');
    await wb.page.keyboard.press('Escape');
  });

  it('after the window closes, the real Claude Code CLI in the folder does not hang', async () => {
    // Back to the first gateway, where the session was kept: the policy is written again.
    await switchTo(gw.url);
    const said = await wb.toast(/Signed in to/, 30_000);
    assert.ok(said.includes(`Signed in to ${gw.url} as`), said);
    const local = join(cs.workspace, '.claude', 'settings.local.json');
    await waitForFile(local, 60_000);
    const text = readFileSync(local, 'utf8');
    assert.doesNotMatch(text, /127\.0\.0\.1|tgl-/, 'nothing window-specific in the file');
    // The window and its extension host go away entirely.
    await wb.close();
    await cs.stop();
    // The developer's own shell: no Tollgate environment. Killed after 60 s, so a hang (the old
    // dead-port wiring retried for minutes) shows as a null exit code.
    const run = await runClaude({ baseUrl: '', token: '', prompt: 'hi', gatewayMode: false, cwd: cs.workspace, env: { ANTHROPIC_BASE_URL: undefined, ANTHROPIC_AUTH_TOKEN: undefined }, timeoutMs: 60_000 });
    assert.notEqual(run.code, null, `claude hung in the folder after the window closed: ${run.stdout}${run.stderr}`);
    assert.match(`${run.stdout}${run.stderr}`, /Not logged in · Please run \/login/, 'it fails at once with a sentence');
    assert.equal(run.code, 1);
  });

  // Collected over the whole run (the last step closed the window; the messages stay).
  it('no webview broke its Content Security Policy', () => {
    const csp = wb.console().filter((m) => /Content Security Policy/i.test(m.text));
    assert.deepEqual(csp, [], `CSP violations in the console:\n${csp.map((m) => `${m.url}: ${m.text}`).join('\n')}`);
  });
});

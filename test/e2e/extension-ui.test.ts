/**
 * UI suite: the packaged VSIX installed into code-server, driven in Debian's Chromium as a
 * developer would: sign in from the command palette against a real gateway and the test OIDC
 * provider (browser leg in a separate Chromium, as the developer's own browser), the budget in the status bar, spend and policy
 * in the sidebar webview, and a request from the integrated terminal through the proxy.
 * Screenshots go to test-output/extension-e2e/.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { assertHostInstalled, startCodeServer, type CodeServer } from '../support/code-server';
import { openBrowser, openWorkbench, type Workbench } from '../support/workbench';
import { OUT_DIR, packageExtension, startE2eGateway, USER_CODE, type E2eGateway } from './support-extension';

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
  let cs: CodeServer;
  let wb: Workbench;

  before(async () => {
    assertHostInstalled();
    const vsix = packageExtension();
    gw = await startE2eGateway();
    cs = await startCodeServer({ vsix: [vsix], settings: { 'tollgate.gatewayUrl': gw.url } });
    wb = await openWorkbench(cs, { outDir: OUT_DIR, recordExternal: true });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') await wb?.screenshot('ui-failure').catch(() => {});
  });
  after(async () => {
    await wb?.close().catch(() => {});
    await cs?.stop();
    await gw?.close();
  });

  it('signs in from the palette, shows the budget, the sidebar and proxies a terminal request', async () => {
    const { page } = wb;
    const status = page.locator(STATUS);
    await status.waitFor({ timeout: 90_000 });
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('Sign in'), STATUS, { timeout: 30_000 });
    await wb.screenshot('01-signed-out-status-bar');

    await wb.runCommand('Tollgate: Sign In');
    const toast = await wb.toast(USER_CODE, 60_000);
    const code = USER_CODE.exec(toast)![1]!;
    await wb.screenshot('02-sign-in-code-notification');
    // The extension asked the editor to open the verification page (code-server rewrites
    // loopback URLs to its own proxy path, so the developer's browser is pointed at the gateway).
    await page.waitForFunction((c) => ((window as unknown as { __tollgateOpened?: string[] }).__tollgateOpened ?? []).some((u) => u.includes(c)), code, { timeout: 15_000 });
    const browser = await openBrowser();
    try {
      await browser.page.goto(`${gw.url}/device?user_code=${code}`);
      assert.equal(await browser.page.inputValue('input[name=user_code]'), code, 'the page shows the code from the editor');
      const done = await approveInBrowser(browser.page, gw.url, 'alice');
      await browser.page.screenshot({ path: join(OUT_DIR, '03-browser-leg-done.png') });
      assert.match(done, /signed in|you can close|success/i);
    } finally {
      await browser.close();
    }

    // Signed in: the status bar leaves "Sign in" for the budget.
    await page.waitForFunction((sel) => {
      const t = document.querySelector(sel)?.textContent ?? '';
      return !t.includes('Sign in') && !t.includes('…');
    }, STATUS, { timeout: 60_000 });
    const budget = (await status.innerText()).trim();
    // The e2e gateway caps everyone at $50 a day (support-extension.ts).
    assert.match(budget, BUDGET);
    // The sign-in notification (the code and the wait) closes by itself once signed in.
    await page.locator('.notifications-toasts .notification-toast', { hasText: code }).waitFor({ state: 'detached', timeout: 10_000 });
    await wb.screenshot('04-signed-in-status-bar');

    // Clicking the budget opens the sidebar webview; read identity and spend from it.
    await status.click();
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
    await wb.screenshot('05-sidebar-spend-and-policy');

    // A new integrated terminal carries the proxy env; send a request from it with curl.
    const before = gw.mock.requests.length;
    await wb.newTerminal();
    const out = join(cs.workspace, 'proxy-reply.json');
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
    await wb.screenshot('06-terminal-request-and-recent');

    // The policy view: each rule with its value, the VS Code settings it changed, no proxy keys.
    const claudeRules = await view.locator('#claude-rules').innerText();
    assert.match(claudeRules, /availableModels = \["claude-sonnet-4-6","claude-haiku-4-5"\]/);
    assert.match(claudeRules, /permissions\.deny = \["Read\(\.\/\.env\)"\]/);
    assert.match(claudeRules, /From policy engineering, managed by your organisation/);
    assert.doesNotMatch(claudeRules, /ANTHROPIC_BASE_URL|ANTHROPIC_AUTH_TOKEN/);
    assert.match(await view.locator('#vscode-rules').innerText(), /files\.exclude = \{"\*\*\/\.env":true\}/);
    await wb.screenshot('07-policy-rules');

    // An agent's request the gateway refuses (a model the policy does not offer): the window
    // says so with the gateway's own sentence, and the sidebar shows the block.
    const refused = join(cs.workspace, 'refused-reply.json');
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
    await wb.screenshot('08-blocked-request');
  });
});

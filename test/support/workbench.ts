/**
 * Drives the code-server workbench with playwright-core and Debian's Chromium: open a folder,
 * run palette commands, read notifications, the status bar and webview views.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';
import { CHROMIUM, type CodeServer } from './code-server';

export interface Workbench {
  context: BrowserContext;
  page: Page;
  runCommand(title: string): Promise<void>;
  toast(text: RegExp, timeoutMs?: number): Promise<string>;
  webview(): FrameLocator;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function openWorkbench(cs: CodeServer, opts: { query?: string; outDir: string }): Promise<Workbench> {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'tollgate-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${cs.url}/?folder=${encodeURIComponent(cs.workspace)}${opts.query ?? ''}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
  return {
    context,
    page,
    async runCommand(title) {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 15_000 });
      await input.fill(`>${title}`);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
    },
    async toast(text, timeoutMs = 30_000) {
      const t = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
      await t.waitFor({ timeout: timeoutMs });
      return (await t.innerText()).trim();
    },
    webview: () => page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame'),
    async screenshot(name) {
      const path = join(opts.outDir, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    close: () => context.close(),
  };
}

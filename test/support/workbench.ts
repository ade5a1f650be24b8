/**
 * Drives the code-server workbench with playwright-core and Debian's Chromium: open a folder,
 * run palette commands, read notifications, the status bar and webview views.
 *
 * The workbench gets a Chromium of its own and nothing else runs in it: a second tab in the
 * same profile (the sign-in page, an `openExternal` tab) was seen to stall the service-worker
 * bootstrap of webview frames, leaving the sidebar blank. Pages a developer would see in their
 * own browser open in a separate instance (`openBrowser`), as their default browser would.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';
import { CHROMIUM, type CodeServer } from './code-server';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Workbench {
  context: BrowserContext;
  page: Page;
  runCommand(title: string): Promise<void>;
  toast(text: RegExp, timeoutMs?: number): Promise<string>;
  webview(): FrameLocator;
  /** URLs the workbench asked to open externally (only with `recordExternal`). */
  openedExternally(): Promise<string[]>;
  /** Opens a terminal and waits for its shell prompt (the DOM renderer's rows, not a delay). */
  newTerminal(): Promise<void>;
  screenshot(name: string): Promise<string>;
  /** The same state in the dark and the light theme: `<name>-dark.png`, `<name>-light.png`. */
  screenshotThemes(name: string): Promise<void>;
  /** Chromium console messages (every frame, webviews included) seen so far. */
  console(): { type: string; text: string; url: string }[];
  close(): Promise<void>;
}

/** code-server 4.139's default themes (theme ids, which the settings accept). */
export const THEMES = { dark: { name: 'Dark 2026', workbench: 'vs-dark', webview: 'vscode-dark' }, light: { name: 'Light 2026', workbench: 'vs', webview: 'vscode-light' } } as const;
/** User settings for `screenshotThemes`: the workbench follows the browser's colour scheme. */
export const THEME_SETTINGS = { 'window.autoDetectColorScheme': true, 'workbench.preferredDarkColorTheme': THEMES.dark.name, 'workbench.preferredLightColorTheme': THEMES.light.name };

export interface Browser {
  page: Page;
  close(): Promise<void>;
}

async function launch(viewport = { width: 1400, height: 900 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'tollgate-chromium-')), { executablePath: CHROMIUM, headless: true, viewport, args: ARGS });
}

/** A separate Chromium instance (own process and profile): the developer's own browser. */
export async function openBrowser(): Promise<Browser> {
  const context = await launch({ width: 1100, height: 800 });
  const page = context.pages()[0] ?? (await context.newPage());
  return { page, close: () => context.close() };
}

export async function openWorkbench(cs: CodeServer, opts: { query?: string; outDir: string; recordExternal?: boolean }): Promise<Workbench> {
  const context = await launch();
  if (opts.recordExternal) {
    // VS Code's web opener calls window.open(url, '_blank', 'noopener'), whose result it cannot
    // read; record the URL instead of opening a tab in the workbench's profile.
    await context.addInitScript(() => {
      const w = window as unknown as { open: (u?: string | URL) => null; __tollgateOpened?: string[] };
      w.open = (u) => {
        (w.__tollgateOpened ??= []).push(String(u));
        return null;
      };
    });
  }
  // "Copy Code and Open Browser" writes the code through the browser's clipboard.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cs.url });
  const page = context.pages()[0] ?? (await context.newPage());
  // Chromium reports CSP violations (and other errors) as console log entries, for every frame.
  const messages: { type: string; text: string; url: string }[] = [];
  page.on('console', (m) => messages.push({ type: m.type(), text: m.text(), url: m.location().url }));
  await page.goto(`${cs.url}/?folder=${encodeURIComponent(cs.workspace)}${opts.query ?? ''}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
  const runCommand = async (title: string) => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 15_000 });
    await input.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
  };
  return {
    context,
    page,
    runCommand,
    async toast(text, timeoutMs = 30_000) {
      const t = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
      await t.waitFor({ timeout: timeoutMs });
      return (await t.innerText()).trim();
    },
    webview: () => page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame'),
    openedExternally: () => page.evaluate(() => [...((window as unknown as { __tollgateOpened?: string[] }).__tollgateOpened ?? [])]),
    async newTerminal() {
      const before = await page.locator('.terminal-wrapper').count();
      await runCommand('Terminal: Create New Terminal');
      await page.locator('.terminal-wrapper').nth(before).waitFor({ timeout: 30_000 });
      // The prompt (bash's "$ " or root's "# ") on the active terminal's last non-empty row.
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('.terminal-wrapper.active .xterm-rows > div')].map((r) => (r.textContent ?? '').trimEnd()).filter(Boolean);
        return /[$#]$/.test(rows.at(-1) ?? '');
      }, undefined, { timeout: 30_000 });
      await page.locator('.terminal-wrapper.active .xterm-helper-textarea').focus();
    },
    screenshot,
    async screenshotThemes(name) {
      await setTheme('light');
      await screenshot(`${name}-light`);
      await setTheme('dark');
      await screenshot(`${name}-dark`);
      await setTheme('light');
    },
    console: () => [...messages],
    close: () => context.close(),
  };

  async function screenshot(name: string): Promise<string> {
    const path = join(opts.outDir, `${name}.png`);
    // Transitions finished first: the status bar fades its background over 150 ms after a theme
    // switch (longer on a loaded machine), which left dark shots with a grey, unreadable bar.
    await page.screenshot({ path, animations: 'disabled' });
    return path;
  }

  /**
   * Switches the colour theme without touching the UI (open menus and dialogs stay open): the
   * browser's colour scheme, which the workbench follows with the THEME_SETTINGS below.
   */
  async function setTheme(kind: keyof typeof THEMES): Promise<void> {
    const t = THEMES[kind];
    await page.emulateMedia({ colorScheme: kind });
    await page.waitForFunction((cls) => document.querySelector('.monaco-workbench')?.classList.contains(cls), t.workbench, { timeout: 30_000 });
    // Webview contents re-theme after the workbench (their body carries vscode-light/-dark).
    for (const f of page.frames().filter((x) => x !== page.mainFrame())) {
      const themed = await f.evaluate(() => /\bvscode-(light|dark)\b/.test(document.body?.className ?? '')).catch(() => false);
      if (themed) await f.waitForFunction((cls) => document.body.classList.contains(cls), t.webview, { timeout: 15_000 });
    }
  }
}

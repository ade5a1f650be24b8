/**
 * Shared set-up of the two in-editor suites: the built VSIX, a real gateway signed in through
 * the test OIDC provider with the loopback Anthropic upstream, and screenshots under test-output/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startGatewayWithIdp } from '../support/test-idp';
import type { Workbench } from '../support/workbench';

export const VSIX = resolve('tollgate-0.1.0.vsix');
export const OUT_DIR = resolve('test-output', 'extension-e2e');

/** `npm run package` once per run (the suites need the bundle and the VSIX). */
export function packageExtension(): string {
  if (!existsSync(VSIX) || process.env.TOLLGATE_E2E_REPACKAGE !== '0') {
    execFileSync('npm', ['run', '--silent', 'package'], { stdio: 'pipe', timeout: 180_000 });
  }
  mkdirSync(OUT_DIR, { recursive: true });
  return VSIX;
}

/** The policy the test user (alice, group engineering) matches: Claude Code and editor settings. */
export const MANAGED_POLICIES = [
  {
    name: 'engineering',
    match: { groups: ['engineering'] },
    cli: { availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'], permissions: { deny: ['Read(./.env)'] }, env: { DISABLE_UPDATES: '1' } },
    vscode: { 'files.exclude': { '**/.env': true } },
  },
  { name: 'everyone', match: {}, cli: { availableModels: ['claude-haiku-4-5'] } },
];

const E2E_ADMIN_KEY = 'e2e-admin-write-key-0123456789abcdef0123';

export interface E2eGateway {
  url: string;
  mock: MockAnthropic;
  close(): Promise<void>;
}

export async function startE2eGateway(): Promise<E2eGateway> {
  const mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
  const tdb: TestDatabase = await createTestDatabase('pglite');
  const gw = await startGatewayWithIdp({
    db: tdb.db,
    config: {
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      managed: { policies: MANAGED_POLICIES },
      admin: { write_keys: [{ id: 'e2e', key: E2E_ADMIN_KEY }], blocked_message: 'ask #eng-budget to raise it' },
    },
  });
  // A $50 daily cap for everyone, set the way an operator would: through the admin API.
  const res = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
    method: 'POST',
    headers: { 'x-api-key': E2E_ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: { type: 'organization' }, amount: '5000', period: 'daily' }),
  });
  if (!res.ok) throw new Error(`could not set the e2e spend cap: ${res.status} ${await res.text()}`);
  return {
    url: gw.url,
    mock,
    async close() {
      await gw.close();
      await tdb.drop();
      await mock.close();
    },
  };
}

/** The user code in the extension's sign-in notification. */
export const USER_CODE = /Tollgate sign-in code: ([A-Z]{4}-[A-Z]{4})/;

/**
 * The sign-in code modal ("Sign in to Tollgate at …"): optionally screenshots it in both themes,
 * clicks "Copy Code and Open Browser" and returns the code from the progress notification.
 */
export async function acceptCodePrompt(wb: Workbench, screenshot?: string): Promise<string> {
  const dialog = wb.page.locator('.monaco-dialog-box', { hasText: 'Sign in to Tollgate' });
  await dialog.waitFor({ timeout: 60_000 });
  if (screenshot) await wb.screenshotThemes(screenshot);
  await dialog.locator('.monaco-button', { hasText: 'Copy Code and Open Browser' }).click();
  await dialog.waitFor({ state: 'detached', timeout: 15_000 });
  return USER_CODE.exec(await wb.toast(USER_CODE, 60_000))![1]!;
}

/**
 * The admin console in Chromium (playwright-core, /usr/bin/chromium) against a real gateway on
 * PostgreSQL, a real OpenID provider (oidc-provider) and the official @anthropic-ai/sdk; only the
 * model provider is a loopback simulation. Signs in through the IdP as an admin, a viewer and a
 * non-admin; checks the overview against the Reports API and an SQL aggregate over audit_log;
 * sets a $0.01 cap in the Caps page and watches the SDK get the spend-limit 429; revokes a user
 * in the Users page and watches their bearer get 401; filters the Audit page (kept in the URL),
 * downloads the filtered export, runs the chain badge before and after tampering with a row;
 * lists sessions on the Users page and watches a revoked user's console cookie be refused;
 * refuses a cross-site form POST; runs axe-core on every page and these states; saves
 * screenshots of every page and state, light and dark, to test-output/console/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import Anthropic from '@anthropic-ai/sdk';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startGatewayWithIdp, startTestIdp, type TestIdp } from '../support/test-idp';
import { freePort } from '../support/process';
import { CHROMIUM } from '../support/code-server';
import { DEMO_USERS } from '../../gateway-server/src/auth/dev-idp';
import { NAV } from '../../gateway-server/src/console/web/layout';
import { overviewRange } from '../../gateway-server/src/console/web/pages-main';
import { waitFor } from '../support/wait';

const READ_KEY = 'rk-console-0123456789abcdef0123456789abcd';
const WRITE_KEY = 'wk-console-0123456789abcdef0123456789abcd';
const OUT = 'test-output/console';
const USERS = [
  { login: 'alice', email: 'alice@example.com', name: 'Alice Example', groups: ['engineering', 'platform-admins'] },
  { login: 'fiona', email: 'fiona@example.com', name: 'Fiona Finops', groups: ['finops'] },
  { login: 'dora', email: 'dora@example.com', name: 'Dora Admin', groups: ['platform-admins'] },
  { login: 'vera', email: 'vera@example.com', name: 'Vera Auditor', groups: ['finops'] },
  { login: 'bob', email: 'bob@example.com', name: 'Bob Example', groups: ['contractors'] },
];

async function signIn(page: Page, gwUrl: string, login: string, path = '/console'): Promise<void> {
  await page.goto(`${gwUrl}${path}`);
  // At the IdP: a login form, then consent; each a POST that redirects onwards.
  for (let i = 0; i < 4 && !page.url().startsWith(gwUrl); i++) {
    const loginField = page.locator('input[name=login]');
    if (await loginField.count()) {
      await loginField.fill(login);
      await page.locator('input[name=password]').fill('any-password');
    }
    const before = page.url();
    await Promise.all([page.waitForURL((u) => u.href !== before), page.locator('button[type=submit]').first().click()]);
  }
  assert.ok(page.url().startsWith(gwUrl), `back at the gateway after sign-in, at ${page.url()}`);
}

async function axeCheck(page: Page, source: string): Promise<void> {
  await page.evaluate(source);
  const result = (await page.evaluate(() => (globalThis as unknown as { axe: { run(o?: unknown): Promise<unknown> } }).axe.run())) as { violations: { id: string; impact: string; nodes: unknown[] }[] };
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`), [], `axe on ${page.url()}`);
}

describe('admin console (Chromium, PostgreSQL, real IdP, official SDK)', function () {
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  let idp: TestIdp;
  let gw: Awaited<ReturnType<typeof startGatewayWithIdp>>;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let erinToken: string;
  let attacker: Server;
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const sdk = (token: string) => new Anthropic({ baseURL: gw.url, authToken: token, apiKey: null, maxRetries: 0 });
  // max_tokens as Claude Code sends it: near a cap the gateway lowers it, down to enforcement.min_output_tokens.
  const ask = (token: string, maxTokens = 200) => sdk(token).messages.create({ model: 'claude-sonnet-4-6', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] });

  before(async function () {
    this.timeout(180_000);
    mkdirSync(OUT, { recursive: true });
    mock = await startMockAnthropic();
    tdb = await createTestDatabase('postgres');
    const port = await freePort();
    idp = await startTestIdp({ redirectUris: [`http://127.0.0.1:${port}/oauth/callback`, `http://127.0.0.1:${port}/console/callback`], users: [...USERS, ...DEMO_USERS.filter((u) => !USERS.some((x) => x.login === u.login))] });
    gw = await startGatewayWithIdp({
      db: tdb.db,
      idp,
      port,
      config: {
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { read_keys: [{ id: 'finops-script', key: READ_KEY }], write_keys: [{ id: 'ops', key: WRITE_KEY }], admin_groups: ['platform-admins'], viewer_groups: ['finops'] },
        console: { enabled: true },
      },
    });
    erinToken = gw.app.gateway.tokens.mint({ sub: 'erin', email: 'erin@example.com', name: 'Erin Dev', groups: ['engineering'] }).token;
    for (let i = 0; i < 3; i++) await ask(erinToken);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    admin = await browser.newContext();
    page = await admin.newPage();
    page.on('dialog', (d) => void d.accept());
  });
  after(async () => {
    await browser?.close();
    attacker?.close();
    await gw?.close();
    await idp?.close();
    await tdb?.drop();
    await mock?.close();
  });

  it('an admin signs in through the IdP; the overview equals the Reports API and an SQL aggregate over audit_log', async () => {
    await signIn(page, gw.url, 'alice');
    assert.equal(await page.locator('h1').textContent(), 'Overview');
    const shown = await page.locator('[data-metric=cost_micros]').getAttribute('data-value');
    const requests = await page.locator('[data-metric=requests]').getAttribute('data-value');
    const { from, to } = overviewRange(Date.now(), 'UTC', 30);
    const api = (await (await fetch(`${gw.url}/v1/organizations/reports/usage?from=${from}&to=${to}&tz=UTC&bucket=none&group_by=user`, { headers: { 'x-api-key': READ_KEY } })).json()) as { from: string; to: string; totals: { cost_micros: string; requests: string } };
    const { rows } = await tdb.db.query<{ c: string; n: string }>(`SELECT coalesce(sum(cost_micros), 0)::text AS c, count(*)::text AS n FROM audit_log WHERE event = 'inference' AND at >= $1 AND at < $2`, [api.from, api.to]);
    assert.equal(rows[0]!.n, '3');
    assert.ok(BigInt(rows[0]!.c) > 0n);
    assert.equal(shown, api.totals.cost_micros);
    assert.equal(shown, rows[0]!.c);
    assert.equal(requests, api.totals.requests);
  });

  it('a $0.01 cap set in the Caps page binds the SDK user at once (spend-limit 429), effect shown before saving', async () => {
    await page.goto(`${gw.url}/console/caps`);
    await page.selectOption('select[name=scope_type]', 'user');
    await page.fill('input[name=scope_id]', 'erin');
    await page.selectOption('select[name=period]', 'daily');
    await page.fill('input[name=dollars]', '0.01');
    await page.click('button[value=preview]');
    // erin's three requests cost less than a cent: covered, not yet over.
    const spent = await tdb.db.query<{ c: string }>(`SELECT coalesce(sum(cost_micros), 0)::text AS c FROM audit_log WHERE sub = 'erin'`);
    assert.ok(BigInt(spent.rows[0]!.c) < 10_000n);
    assert.match((await page.locator('.notice').textContent()) ?? '', /1 user covered, 0 of them already at or over this daily cap\. Nothing saved yet\./);
    await page.click('button[value=save]');
    assert.match((await page.locator('.notice').textContent()) ?? '', /Cap saved: \$0\.01 daily/);
    // What is left of the cent does not pay for 1024 output tokens at $15/M: refused, not lowered.
    await assert.rejects(ask(erinToken, 4096), (err: unknown) => err instanceof Anthropic.APIError && err.status === 429);
    const { rows } = await tdb.db.query<{ actor: string }>(`SELECT actor FROM admin_audit WHERE action = 'spend_limit.upsert'`);
    assert.deepEqual(rows.map((r) => r.actor), ['oidc:alice']);
  });

  it('revoking a user in the Users page makes their bearer get 401 at once', async () => {
    await page.goto(`${gw.url}/console/users?q=erin`);
    await page.locator('tr[data-user=erin] button', { hasText: 'Revoke all sessions' }).click();
    await page.waitForSelector('.notice');
    assert.match((await page.locator('.notice').textContent()) ?? '', /Every session of erin has ended/);
    await assert.rejects(ask(erinToken), (err: unknown) => err instanceof Anthropic.APIError && err.status === 401);
  });

  /** Extra console states, screenshot and axe-checked with every page (light and dark). */
  const STATES: { name: string; path: () => string }[] = [];

  it('the Audit page: filters kept in the URL, export of the filtered set, chain badge on demand naming a tampered row', async () => {
    await page.goto(`${gw.url}/console/audit`);
    await page.fill('input[name=user_id]', 'erin');
    await page.fill('input[name=outcome]', 'ok');
    await page.fill('input[name=model]', 'claude-sonnet-4-6');
    await page.fill('input[name=upstream]', 'anthropic');
    await Promise.all([page.waitForURL(/user_id=erin/), page.click('form[aria-label=Filter] button[type=submit]')]);
    const url = new URL(page.url());
    assert.deepEqual(['user_id', 'outcome', 'model', 'upstream'].map((k) => url.searchParams.get(k)), ['erin', 'ok', 'claude-sonnet-4-6', 'anthropic']);
    const { rows } = await tdb.db.query<{ id: string }>(
      `SELECT id::text FROM audit_log WHERE sub = 'erin' AND outcome = 'ok' AND model = 'claude-sonnet-4-6' AND upstream = 'anthropic' ORDER BY at DESC, id DESC`,
    );
    assert.equal(rows.length, 3);
    assert.deepEqual(await page.locator('tr[data-id]').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-id'))), rows.map((r) => r.id));
    STATES.push({ name: 'audit-filtered', path: () => url.pathname + url.search });
    // The filtered export, downloaded by the browser with its cookie.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("JSONL")')]);
    const lines = readFileSync((await download.path())!, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    assert.deepEqual(lines, rows.map((r) => r.id).reverse());
    // The badge for a time range, on demand.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    await page.goto(`${gw.url}/console/audit?since=${encodeURIComponent(since)}`);
    await Promise.all([page.waitForURL(/\/console\/audit\/verify/), page.click('button[data-verify]')]);
    assert.equal(await page.locator('[data-chain]').getAttribute('data-chain'), 'intact');
    STATES.push({ name: 'audit-verified', path: () => `/console/audit/verify?since=${encodeURIComponent(since)}` });
    const victim = rows[1]!.id;
    await tdb.db.query('UPDATE audit_log SET output_tokens = output_tokens + 1 WHERE id = $1', [victim]);
    await page.reload();
    assert.equal(await page.locator('[data-chain]').getAttribute('data-chain'), 'broken');
    assert.equal(await page.locator('[data-chain]').getAttribute('data-break-id'), victim);
    assert.match((await page.locator('[data-chain]').textContent()) ?? '', new RegExp(`First broken link: row ${victim} .*hash mismatch`));
    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: `${OUT}/audit-broken-light.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${OUT}/audit-broken-dark.png`, fullPage: true });
    await axeCheck(page, axeSource);
    await page.emulateMedia({ colorScheme: 'light' });
    await tdb.db.query('UPDATE audit_log SET output_tokens = output_tokens - 1 WHERE id = $1', [victim]);
  });

  it("the Users page lists sessions; a revoked user's console cookie is refused at once", async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await signIn(p, gw.url, 'dora');
    // dora is listed once she has made a request (the Users page lists people who did).
    const dorasToken = gw.app.gateway.tokens.mint({ sub: 'dora', email: 'dora@example.com', groups: ['platform-admins'] }).token;
    await ask(dorasToken);
    await waitFor('dora is listed with her console session', async () => {
      await page.goto(`${gw.url}/console/users?q=dora`);
      return (await page.locator('tr[data-user=dora] li[data-state=active]', { hasText: 'console' }).count()) === 1;
    }, { intervalMs: 100, attempts: 100 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `${OUT}/users-sessions-active-${scheme}.png`, fullPage: true });
      await axeCheck(page, axeSource);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    STATES.push({ name: 'users-sessions', path: () => '/console/users?q=dora' });
    assert.equal((await p.request.get(`${gw.url}/console/users`, { maxRedirects: 0 })).status(), 200);
    await page.locator('tr[data-user=dora] button', { hasText: 'Revoke all sessions' }).click();
    await page.waitForSelector('.notice');
    assert.match((await page.locator('.notice').textContent()) ?? '', /Every session of dora has ended/);
    const refused = await p.request.get(`${gw.url}/console/users`, { maxRedirects: 0 });
    assert.equal(refused.status(), 303);
    assert.match(refused.headers().location ?? '', /^\/console\/login/);
    assert.equal(await page.locator('tr[data-user=dora] li[data-state=revoked]').count(), 1);
    // The Admin API's revocation ends a console cookie the same way.
    const f = await browser.newContext();
    const fp = await f.newPage();
    await signIn(fp, gw.url, 'vera');
    assert.equal((await fp.request.get(`${gw.url}/console/audit`, { maxRedirects: 0 })).status(), 200);
    const res = await fetch(`${gw.url}/v1/organizations/users/vera/sessions/revoke`, { method: 'POST', headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 200);
    assert.equal((await fp.request.get(`${gw.url}/console/audit`, { maxRedirects: 0 })).status(), 303);
    await f.close();
    await ctx.close();
  });

  it('a cross-site form POST is refused and changes nothing', async () => {
    const aport = await freePort();
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${gw.url}/console/caps/delete"><input name="id" value="x"></form><script>document.forms[0].submit()</script>`);
    }).listen(aport, '127.0.0.1');
    const evil = await admin.newPage();
    const [res] = await Promise.all([evil.waitForResponse((r) => r.url().startsWith(`${gw.url}/console/caps/delete`)), evil.goto(`http://localhost:${aport}/`)]);
    assert.equal(res.status(), 403);
    assert.match((await evil.locator('main').textContent()) ?? '', /cross-site form POST/);
    await evil.close();
    const { rows } = await tdb.db.query(`SELECT 1 FROM audit_log WHERE event = 'console.denied' AND reason = 'cross-site form POST'`);
    assert.equal(rows.length, 1);
  });

  it('every page passes axe (no serious or critical violations); screenshots light and dark', async function () {
    this.timeout(240_000);
    for (const [id, , path] of NAV) {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        const res = await page.goto(`${gw.url}${path}`);
        assert.equal(res?.status(), 200, path);
        const csp = res!.headers()['content-security-policy'] ?? '';
        assert.match(csp, /script-src 'nonce-[^']+'/);
        assert.match(csp, /frame-ancestors 'none'/);
        await page.screenshot({ path: `${OUT}/${id}-${scheme}.png`, fullPage: true });
        await axeCheck(page, axeSource);
      }
    }
    assert.deepEqual(STATES.map((s) => s.name), ['audit-filtered', 'audit-verified', 'users-sessions']);
    for (const st of STATES) {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        assert.equal((await page.goto(`${gw.url}${st.path()}`))?.status(), 200, st.name);
        await page.screenshot({ path: `${OUT}/${st.name}-${scheme}.png`, fullPage: true });
        await axeCheck(page, axeSource);
      }
    }
  });

  it('a viewer sees every page, and every action is refused', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await signIn(p, gw.url, 'fiona');
    for (const [, , path] of NAV) assert.equal((await p.goto(`${gw.url}${path}`))?.status(), 200, path);
    await p.goto(`${gw.url}/console/caps`);
    assert.equal(await p.locator('button[value=save]').isDisabled(), true);
    // Past the disabled button (a person with devtools): the Admin API refuses as the viewer.
    await p.evaluate(() => document.querySelectorAll('button[disabled]').forEach((b) => b.removeAttribute('disabled')));
    await p.fill('input[name=scope_id]', 'erin');
    await p.fill('input[name=dollars]', '500');
    const [res] = await Promise.all([p.waitForResponse((r) => r.request().method() === 'POST'), p.click('button[value=save]')]);
    assert.equal(res.status(), 403);
    assert.match((await p.locator('.notice').textContent()) ?? '', /read-only admin access/);
    await p.goto(`${gw.url}/console/users?q=erin`);
    await p.evaluate(() => document.querySelectorAll('button[disabled]').forEach((b) => b.removeAttribute('disabled')));
    p.on('dialog', (d) => void d.accept());
    const [rev] = await Promise.all([p.waitForResponse((r) => r.request().method() === 'POST'), p.locator('button', { hasText: 'Revoke all sessions' }).first().click()]);
    assert.equal(rev.status(), 403);
    const { rows } = await tdb.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audit_log WHERE event = 'admin.denied' AND reason = 'viewer_group'`);
    assert.equal(rows[0]!.n, '2');
    await ctx.close();
  });

  it('someone in neither group gets the 403 page saying why', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const responses: number[] = [];
    p.on('response', (r) => {
      if (r.url().includes('/console/callback')) responses.push(r.status());
    });
    await signIn(p, gw.url, 'bob');
    assert.deepEqual(responses, [403]);
    assert.equal(await p.locator('h1').textContent(), 'Not an administrator');
    assert.match((await p.locator('main').textContent()) ?? '', /admin\.admin_groups \(platform-admins\).*admin\.viewer_groups \(finops\)[\s\S]*contractors/);
    assert.equal((await p.goto(`${gw.url}/console/users`))?.status(), 403);
    await ctx.close();
  });
});

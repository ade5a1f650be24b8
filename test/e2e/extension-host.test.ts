/**
 * Extension-host suite: mocha inside the real VS Code extension host (code-server with the
 * smoke-test driver, vscode-e2e.md option B), against a real gateway and the test IdP. The
 * outer test opens the workbench (the host starts only with a browser connected), completes
 * the browser leg of the device sign-in headless, and reads the results file.
 */
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { assertHostInstalled, startCodeServer, type CodeServer } from '../support/code-server';
import { openWorkbench, type Workbench } from '../support/workbench';
import { completeDeviceSignIn } from '../support/test-idp';
import { OUT_DIR, packageExtension, startE2eGateway, type E2eGateway } from './support-extension';

describe('VS Code extension: tests inside the extension host (code-server)', function () {
  this.timeout(300_000);
  let gw: E2eGateway;
  let cs: CodeServer;
  let wb: Workbench;

  before(async () => {
    assertHostInstalled();
    packageExtension();
    gw = await startE2eGateway();
  });
  after(async () => {
    await wb?.close().catch(() => {});
    await cs?.stop();
    await gw?.close();
  });

  it('passes the in-host suite: commands, device sign-in, SecretStorage only, settings written and removed, proxy, Codex profile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-host-'));
    const results = join(dir, 'results.json');
    const define = {
      __MOCHA_PATH__: JSON.stringify(createRequire(import.meta.url).resolve('mocha')),
      __SUITE_PATH__: JSON.stringify(join(dir, 'suite.js')),
      __RESULTS_PATH__: JSON.stringify(results),
      __GREP__: '""',
    };
    const common = { bundle: true, platform: 'node' as const, format: 'cjs' as const, target: 'node20', external: ['vscode'], define, logLevel: 'warning' as const };
    await build({ ...common, entryPoints: [resolve('test/e2e/host/runner.ts')], outfile: join(dir, 'runner.js') });
    await build({ ...common, entryPoints: [resolve('test/e2e/host/suite.ts')], outfile: join(dir, 'suite.js') });

    cs = await startCodeServer({ settings: { 'tollgate.gatewayUrl': gw.url }, args: ['--vscode-option', 'enable-smoke-test-driver'] });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${cs.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(resolve('extension'))],
      ['extensionTestsPath', remote(join(dir, 'runner.js'))],
    ]);
    wb = await openWorkbench(cs, { query: `&payload=${encodeURIComponent(payload)}`, outDir: OUT_DIR });

    // The suite runs "Tollgate: Sign In", which opens the verification page in a new tab (under
    // test, the workbench shows no notification toasts); take the code from that tab's URL.
    const opened = await wb.context.waitForEvent('page', { predicate: (p) => /user_code=/.test(p.url()), timeout: 120_000 }).catch(async (err) => {
      await wb.screenshot('host-suite-no-sign-in-page').catch(() => {});
      throw err;
    });
    const code = /user_code=([A-Z]{4}-[A-Z]{4})/.exec(opened.url())?.[1];
    assert.ok(code, `no user code in ${opened.url()}`);
    await opened.close();
    const page = await completeDeviceSignIn(`${gw.url}/device?user_code=${code}`, { login: 'alice' });
    assert.equal(page.status, 200, page.html.slice(0, 300));

    const deadline = Date.now() + 180_000;
    while (!existsSync(results) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    await wb.screenshot('host-suite-done').catch(() => {});
    assert.ok(existsSync(results), `the in-host suite wrote no results (code-server log: ${cs.logFile})`);
    const out = JSON.parse(readFileSync(results, 'utf8')) as { results: { title: string; state: string; error?: string }[]; extra: Record<string, unknown> };
    console.log(`      in-host: ${out.results.map((r) => `${r.state === 'passed' ? '✔' : '✗'} ${r.title}`).join('\n      in-host: ')}`);
    console.log(`      activation: ${Number(out.extra.activationMs).toFixed(1)} ms`);
    const failed = out.results.filter((r) => r.state !== 'passed');
    assert.deepEqual(failed, [], failed.map((f) => `${f.title}\n${f.error}`).join('\n\n'));
    assert.equal(out.results.length, 5);
  });
});

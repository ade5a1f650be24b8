/**
 * For developers with internet access: runs the in-host suite's smoke part (activation,
 * commands, views) in a VS Code downloaded by @vscode/test-electron. CI and these machines use
 * code-server instead (test/e2e/extension-host.test.ts), which also runs the sign-in part.
 * Usage: npm run package && node --import tsx scripts/test-electron.ts
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTests } from '@vscode/test-electron';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-electron-'));
const results = join(dir, 'results.json');
const define = {
  __MOCHA_PATH__: JSON.stringify(createRequire(import.meta.url).resolve('mocha')),
  __SUITE_PATH__: JSON.stringify(join(dir, 'suite.js')),
  __RESULTS_PATH__: JSON.stringify(results),
  __GREP__: JSON.stringify('activates and registers'),
};
const common = { bundle: true, platform: 'node' as const, format: 'cjs' as const, target: 'node20', external: ['vscode'], define };
await build({ ...common, entryPoints: [resolve('test/e2e/host/runner.ts')], outfile: join(dir, 'runner.js') });
await build({ ...common, entryPoints: [resolve('test/e2e/host/suite.ts')], outfile: join(dir, 'suite.js') });
const workspace = mkdtempSync(join(tmpdir(), 'tollgate-electron-ws-'));
await runTests({
  extensionDevelopmentPath: resolve('extension'),
  extensionTestsPath: join(dir, 'runner.js'),
  launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
});
const out = JSON.parse(readFileSync(results, 'utf8')) as { results: { title: string; state: string; error?: string }[] };
for (const r of out.results) console.log(`${r.state === 'passed' ? 'ok  ' : 'FAIL'} ${r.title}${r.error ? `\n${r.error}` : ''}`);
process.exit(out.results.every((r) => r.state === 'passed') && out.results.length > 0 ? 0 : 1);

/**
 * Entry VS Code's test mechanism loads inside the extension host (`extensionTestsPath`). It runs
 * the bundled suite with mocha and writes a JSON summary the outer test reads: the host exits 0
 * even when tests fail, so the file is the verdict.
 */
import { writeFileSync } from 'node:fs';

declare const __MOCHA_PATH__: string;
declare const __SUITE_PATH__: string;
declare const __RESULTS_PATH__: string;
/** Mocha grep (empty: all); the Electron runner without a browser leg runs the smoke part only. */
declare const __GREP__: string;

export async function run(): Promise<void> {
  // module.require: load the repository's mocha at run time instead of bundling it.
  const Mocha = module.require(__MOCHA_PATH__) as typeof import('mocha');
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec', ...(__GREP__ ? { grep: __GREP__ } : {}) });
  mocha.addFile(__SUITE_PATH__);
  const results: { title: string; state: string; error?: string; durationMs?: number }[] = [];
  const extra: Record<string, unknown> = {};
  (globalThis as { __tollgateHostResults?: Record<string, unknown> }).__tollgateHostResults = extra;
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration ?? 0 }));
    runner.on('fail', (t, err) => results.push({ title: t.fullTitle(), state: 'failed', error: String((err as Error)?.stack ?? err) }));
  });
  writeFileSync(__RESULTS_PATH__, JSON.stringify({ results, extra }, null, 2));
}

/**
 * Root hook for the end-to-end suites (test/mocharc.e2e.json): they run the built bundles
 * (dist/server for the gateway process, extension/dist in VS Code), so a bundle older than its
 * sources would test yesterday's code and pass or fail for the wrong reason. Refuse to start then.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUNDLES: { output: string; sources: string[] }[] = [
  { output: 'dist/server/tollgate-gateway.js', sources: ['gateway-server/src', 'scripts/build.mjs'] },
  { output: 'extension/dist/extension.js', sources: ['extension/src', 'client/src/core', 'gateway-server/src', 'scripts/build.mjs'] },
  { output: 'dist/client/tollgate.js', sources: ['client/src', 'extension/src/auth', 'extension/src/settings', 'gateway-server/src/protocol', 'scripts/build.mjs'] },
  { output: 'extension/dist/webview.js', sources: ['webview/src', 'gateway-server/src', 'scripts/build.mjs'] },
];

/** The newest file under `path` (a file or a folder), or undefined when nothing is there. */
export function newest(path: string): { file: string; mtimeMs: number } | undefined {
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  if (!st.isDirectory()) return { file: path, mtimeMs: st.mtimeMs };
  let best: { file: string; mtimeMs: number } | undefined;
  for (const name of readdirSync(path)) {
    const n = newest(join(path, name));
    if (n && (!best || n.mtimeMs > best.mtimeMs)) best = n;
  }
  return best;
}

/** A sentence for each stale or missing bundle; empty when every bundle is fresh. */
export function staleBundles(root = '.'): string[] {
  const problems: string[] = [];
  for (const b of BUNDLES) {
    const out = join(root, b.output);
    if (!existsSync(out)) {
      problems.push(`${b.output} is missing`);
      continue;
    }
    const built = statSync(out).mtimeMs;
    for (const src of b.sources) {
      const n = newest(join(root, src));
      if (n && n.mtimeMs > built) problems.push(`${b.output} is older than ${n.file.slice(root === '.' ? 0 : root.length + 1)}`);
    }
  }
  return problems;
}

export const mochaHooks = {
  beforeAll(): void {
    const problems = staleBundles();
    if (problems.length) {
      throw new Error(`The end-to-end tests run the built bundles, which do not match the sources (${problems.join('; ')}). Run \`npm run build\` first (\`npm test\` does).`);
    }
  },
};

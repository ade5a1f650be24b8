// Bundles the three outputs: the gateway server (one file for plain `node`),
// the VS Code extension (CommonJS, `vscode` external) and the webview (browser).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';

const serverOnly = process.argv.includes('--server-only');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', legalComments: 'none' };

// Chunk names carry a content hash: start from an empty folder so no stale chunk lingers.
rmSync('dist/server', { recursive: true, force: true });

const jobs = [
  build({
    ...common,
    entryPoints: { 'tollgate-gateway': 'gateway-server/src/cli.ts' },
    outdir: 'dist/server',
    // Split at dynamic imports: adapters and SDKs most deployments never configure (Bedrock's
    // AWS SDK, Vertex's google-auth-library, the OpenTelemetry SDK) live in chunks beside the
    // entry and are loaded only when configured. dist/server is copied as a whole everywhere.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Native-ish or dynamically-loaded packages stay external; they install with `npm ci`.
    packages: 'external',
    banner: { js: "import { createRequire as __tgCreateRequire } from 'node:module'; const require = __tgCreateRequire(import.meta.url);" },
  }),
];

if (!serverOnly) {
  // The `tollgate` command for developers' machines: one self-contained file for plain Node 20+,
  // nothing from the server (bin `tollgate`; `node dist/client/tollgate.js` works as well).
  jobs.push(build({
    ...common,
    entryPoints: { tollgate: 'client/src/main.ts' },
    outdir: 'dist/client',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: false,
    banner: { js: "import { createRequire as __tgCreateRequire } from 'node:module'; const require = __tgCreateRequire(import.meta.url);" },
  }));
  if (existsSync('extension/src/extension.ts')) {
    jobs.push(build({
      ...common,
      entryPoints: ['extension/src/extension.ts'],
      outfile: 'extension/dist/extension.js',
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['vscode'],
      minify: process.env.NODE_ENV === 'production',
    }));
  }
  if (existsSync('webview/src/main.ts')) {
    jobs.push(build({
      ...common,
      entryPoints: ['webview/src/main.ts'],
      outfile: 'extension/dist/webview.js',
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      minify: process.env.NODE_ENV === 'production',
    }));
  }
}

// The sidebar's stylesheet and the codicon font ship beside the webview bundle (dist is the
// webview's only local resource root).
if (!serverOnly && existsSync('webview/src/style.css')) {
  mkdirSync('extension/dist', { recursive: true });
  copyFileSync('webview/src/style.css', 'extension/dist/webview.css');
  copyFileSync('node_modules/@vscode/codicons/dist/codicon.css', 'extension/dist/codicon.css');
  copyFileSync('node_modules/@vscode/codicons/dist/codicon.ttf', 'extension/dist/codicon.ttf');
}

await Promise.all(jobs);

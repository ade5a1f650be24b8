/** The e2e root hook's freshness check (test/support/e2e-hooks.ts), on a scratch tree. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { staleBundles } from '../support/e2e-hooks';

describe('e2e bundle freshness check', () => {
  let root: string;
  const put = (rel: string, secondsAgo: number) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, '//');
    const t = new Date(Date.UTC(2026, 0, 1) - secondsAgo * 1000);
    utimesSync(p, t, t);
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'fresh-'));
    put('gateway-server/src/app.ts', 100);
    put('extension/src/extension.ts', 100);
    put('webview/src/main.ts', 100);
    put('scripts/build.mjs', 100);
    put('client/src/main.ts', 100);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('passes when every bundle is newer than its sources', () => {
    for (const b of ['dist/server/tollgate-gateway.js', 'dist/client/tollgate.js', 'extension/dist/extension.js', 'extension/dist/webview.js']) put(b, 10);
    assert.deepEqual(staleBundles(root), []);
  });

  it('names a missing bundle', () => {
    put('dist/client/tollgate.js', 10);
    put('extension/dist/extension.js', 10);
    put('extension/dist/webview.js', 10);
    assert.deepEqual(staleBundles(root), ['dist/server/tollgate-gateway.js is missing']);
  });

  it('names the source edited after the build, however deep', () => {
    for (const b of ['dist/server/tollgate-gateway.js', 'dist/client/tollgate.js', 'extension/dist/extension.js', 'extension/dist/webview.js']) put(b, 10);
    put('gateway-server/src/spend/gate.ts', 1);
    assert.deepEqual(staleBundles(root), [
      'dist/server/tollgate-gateway.js is older than gateway-server/src/spend/gate.ts',
      'extension/dist/extension.js is older than gateway-server/src/spend/gate.ts',
      'extension/dist/webview.js is older than gateway-server/src/spend/gate.ts',
    ]);
  });
});

/**
 * The test suite's own rules, checked on its source: no silent skips or focused tests, and
 * `npm test` is the whole set-up (its first step installs and starts what the suites need).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('test-suite integrity', () => {
  const sources = files('test').filter((f) => f !== join('test', 'unit', 'test-integrity.test.ts'));

  it('no test skips itself, is skipped or is focused', () => {
    const found: string[] = [];
    for (const f of sources) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\bthis\.skip\(|\b(it|describe|context|specify)\.(skip|only)\(|\bx(it|describe)\(/.test(line)) found.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, [], 'a missing prerequisite must fail with a sentence saying how to install it');
  });

  it('npm test starts with scripts/ci-deps.sh, and .ci/run adds nothing but npm ci', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.test!, /^bash scripts\/ci-deps\.sh && /);
    const steps = readFileSync('.ci/run', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !/^(set |cd |echo )/.test(l));
    assert.deepEqual(steps, ['npm ci --no-audit --no-fund', 'npm test']);
  });

  it('the end-to-end suites check that the bundles are fresh', () => {
    const rc = JSON.parse(readFileSync('test/mocharc.e2e.json', 'utf8')) as { require?: string[] };
    assert.deepEqual(rc.require, ['test/support/e2e-hooks.ts']);
  });
});

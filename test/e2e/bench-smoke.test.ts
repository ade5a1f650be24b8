/**
 * `npm run bench` keeps working from a clean checkout: one tiny cell per target kind, run
 * exactly as the script runs (the bundled gateway, the mock, PostgreSQL, Anthropic's gateway and
 * the do-nothing proxy), checking only that every target answered every request and that the
 * results file has the shape docs/performance.md reads. No timing is asserted: speed lives in
 * the benchmark's own figures, never in tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('npm run bench (smoke)', function () {
  this.timeout(240_000);

  it('measures every default target against the same mock and writes comparisons', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bench-smoke-')), 'result.json');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--quick', '--concurrency', '1', '--modes', 'json,sse', '--upstream-delay-ms', '0', '--rounds', '1', '--duration-ms', '150', '--warmup-ms', '30', '--out', out],
      { encoding: 'utf8', timeout: 220_000 },
    );
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      targets: { name: string; notes: string[] }[];
      cells: { target: string; mode: string; gateway: { requests: number; errors: number }; direct: { errors: number } }[];
      comparisons: { target: string; against: string; rpsRatio: number }[];
      machine: { cpus: string };
    };
    assert.deepEqual(result.targets.map((t) => t.name), ['null-proxy', 'bare', 'governed', 'official-bare', 'official']);
    assert.ok(!result.targets.some((t) => t.notes.some((n) => /^skipped/.test(n))), JSON.stringify(result.targets));
    for (const c of result.cells) {
      assert.ok(c.gateway.requests > 0, `${c.target} ${c.mode} served requests`);
      assert.equal(c.gateway.errors + c.direct.errors, 0, `${c.target} ${c.mode} without errors`);
    }
    assert.equal(result.cells.length, 10);
    const pairs = new Set(result.comparisons.map((c) => `${c.target}/${c.against}`));
    for (const p of ['bare/official-bare', 'governed/official', 'bare/null-proxy', 'official/null-proxy']) assert.ok(pairs.has(p), p);
    assert.ok(result.comparisons.every((c) => Number.isFinite(c.rpsRatio) && c.rpsRatio > 0));
  });
});

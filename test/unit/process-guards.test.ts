/**
 * The process-level guard: an escaped rejection or exception is logged and counted and the
 * process keeps running (issue 15). Run in a child process so mocha's own handlers stay out of it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { StoreHealth, isStoreUnreachableError } from '../../gateway-server/src/store/health';

const GUARDS = resolve(__dirname, '../../gateway-server/src/process-guards.ts');

function runChild(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: resolve(__dirname, '../..') }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('process guards', () => {
  it('a rejection nobody handles is logged and counted; the process keeps running', async function () {
    this.timeout(60_000);
    const script = `
      const { installProcessGuards, guardCounts } = await import(${JSON.stringify(GUARDS)});
      installProcessGuards((m) => console.error('LOG ' + m));
      Promise.reject(Object.assign(new Error('the database system is shutting down'), { code: '57P03' }));
      setTimeout(() => { throw new Error('boom in a timer'); }, 5);
      setTimeout(() => { console.log(JSON.stringify(guardCounts())); }, 50);
    `;
    const r = await runChild(script);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { unhandledRejections: 1, uncaughtExceptions: 1 });
    assert.match(r.stderr, /unhandled promise rejection \(kept running; 1 so far\): the database system is shutting down \(57P03\)/);
    assert.match(r.stderr, /uncaught exception \(kept running; 1 so far\): boom in a timer/);
  });

  it('without the guard the same rejection ends the process (the oracle for the test above)', async function () {
    this.timeout(60_000);
    const r = await runChild(`Promise.reject(new Error('x')); setTimeout(() => console.log('alive'), 50);`);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout.trim(), '');
  });
});

describe('store health', () => {
  it('classifies connection-level errors as unreachable, statement errors as not', () => {
    for (const e of [
      Object.assign(new Error('the database system is shutting down'), { code: '57P03' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
    ]) {
      assert.equal(isStoreUnreachableError(e), true, e.message);
    }
    for (const e of [Object.assign(new Error('duplicate key value'), { code: '23505' }), Object.assign(new Error('syntax error'), { code: '42601' }), 'text', null]) {
      assert.equal(isStoreUnreachableError(e), false, String(e));
    }
  });

  it('tracks down/up transitions and how long the store has been down', () => {
    let t = 1000;
    const h = new StoreHealth(() => t);
    const seen: boolean[] = [];
    h.onChange((r) => seen.push(r));
    h.observe(Object.assign(new Error('dup'), { code: '23505' }));
    assert.equal(h.reachable, true);
    h.observe(Object.assign(new Error('gone'), { code: 'ECONNREFUSED' }));
    assert.equal(h.reachable, false);
    t += 2500;
    assert.equal(h.downForMs(), 2500);
    h.down();
    h.up();
    h.up();
    assert.deepEqual(seen, [false, true]);
    assert.equal(h.downForMs(), 0);
    assert.equal(h.outages, 1);
  });
});

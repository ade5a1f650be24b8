/**
 * The audit spool's file side (audit/spool.ts): records are JSON lines, durable before append
 * resolves, bounded by spool_max_bytes. Replay against real PostgreSQL is in
 * test/integration/store-outage.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditSpool, SpoolFullError, spoolFileName } from '../../gateway-server/src/audit/spool';

describe('audit spool (file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-spool-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends one JSON line per record, in order, each with its own id', async () => {
    const spool = new AuditSpool(dir, 'host/123/abcd', 1 << 20, 'INSERT');
    await spool.append('[{"seq":"1"}]', ['SELECT 1']);
    await spool.append('[{"seq":"2"}]', []);
    await spool.close();
    assert.equal(spool.path, join(dir, spoolFileName('host/123/abcd')));
    const lines = readFileSync(spool.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; rows: string; carried: string[] });
    assert.deepEqual(lines.map((l) => [l.rows, l.carried]), [['[{"seq":"1"}]', ['SELECT 1']], ['[{"seq":"2"}]', []]]);
    assert.notEqual(lines[0]!.id, lines[1]!.id);
    assert.equal(spool.backlog, 2);
    assert.equal(spool.size, readFileSync(spool.path).length);
  });

  it('refuses a record past spool_max_bytes and reports itself full', async () => {
    const spool = new AuditSpool(dir, 'host/1/x', 300, 'INSERT');
    const rows = JSON.stringify([{ pad: 'x'.repeat(100) }]);
    await spool.append(rows, []);
    assert.equal(spool.full, false);
    await assert.rejects(spool.append(rows, []), (err) => err instanceof SpoolFullError && /store.spool_max_bytes = 300/.test(err.message));
    assert.equal(spool.full, true);
    assert.equal(spool.backlog, 1, 'the refused record was not written');
    await spool.close();
    assert.equal(readFileSync(spool.path, 'utf8').trim().split('\n').length, 1);
  });
});

/**
 * Tamper evidence, on real PostgreSQL and on PGlite: a gateway with keyed checkpoints (rotated
 * keys: k2 signs, k1 still verifies) and a file sink. The exported bundle verifies; an oracle
 * written here with node:crypto (own canonical JSON, own HMAC and SHA-256) agrees; and crafted
 * tampering is caught and named: an edited row, a deleted middle row, a reordered pair, rows
 * dropped after the last checkpoint that reached the sink, a checkpoint signed with a wrong key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { waitFor } from '../support/wait';
import { exportBundle } from '../../gateway-server/src/audit/bundle/export';
import { sealsFrom, verifyBundle } from '../../gateway-server/src/audit/bundle/verify';
import { parseKeyFile } from '../../gateway-server/src/audit/checkpoint/seal';

const K1 = 'k1-old-key-0123456789abcdef0123456789abcdef';
const K2 = 'k2-new-key-fedcba9876543210fedcba9876543210';

/** Independent canonical JSON: sorted keys, recursively, no whitespace. */
function canon(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
}

async function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway-server/src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, out };
}

type Line = Record<string, unknown> & { id: string; seq: string; chain: string; hash: string };

for (const kind of storeKinds()) {
  describe(`audit bundles and keyed checkpoints (${kind})`, function () {
    this.timeout(300_000);
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    let sinkDir: string;
    let bundle: string;
    const keys = parseKeyFile(`k1 ${K1}\nk2 ${K2}\n`, 'test');

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
      tdb = await createTestDatabase(kind);
      sinkDir = mkdtempSync(join(tmpdir(), 'tollgate-seal-sink-'));
      const config = testConfig({
        upstreams: [{ name: 'primary', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        audit: {
          checkpoints: { every_rows: 40, every_seconds: 1, signing_key_id: 'k2', keys: [{ id: 'k1', key: K1 }, { id: 'k2', key: K2 }] },
          sinks: [{ type: 'file', name: 'archive', dir: sinkDir }],
        },
      });
      gw = await startTestGateway({ config, db: tdb.db });
      const token = gw.mint();
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`${gw.url}/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
        });
        await res.arrayBuffer();
      }
      // Every request row sealed, and the seals shipped to the sink.
      await waitFor('the sink holds seals covering all 200 requests', () => {
        // Covered = some shipped seal reaches past the last request row. (Seals may all land after the
        // requests when the requests are fast; seal rows alone are never sealed again.)
        const texts = readdirSync(sinkDir).map((f) => readFileSync(join(sinkDir, f), 'utf8'));
        const seals = texts.flatMap((t) => sealsFrom(t));
        const requests = texts.flatMap((t) => t.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line)).filter((l) => l.event === 'inference');
        const lastRequest = requests.reduce((m, r) => (BigInt(r.id) > m ? BigInt(r.id) : m), 0n);
        return requests.length === 200 && seals.some((s) => BigInt(s.last_id) >= lastRequest) ? seals : undefined;
      }, { intervalMs: 100 });
      bundle = mkdtempSync(join(tmpdir(), 'tollgate-bundle-'));
      await exportBundle(tdb.db, { from: new Date(0), to: new Date(Date.now() + 3_600_000) }, bundle);
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });

    const rowsOf = (dir: string) => readFileSync(join(dir, 'rows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    const sealsOf = (dir: string) => sealsFrom(readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8'));
    const sinkSeals = () => readdirSync(sinkDir).flatMap((f) => sealsFrom(readFileSync(join(sinkDir, f), 'utf8')));
    /** A copy with rows (and optionally checkpoints) rewritten, manifest hashes recomputed as an attacker would. */
    const tampered = (rows: Line[], seals = sealsOf(bundle).map((s) => JSON.stringify(s))) => {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-tampered-'));
      cpSync(bundle, dir, { recursive: true });
      const rowsText = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
      const cpText = seals.map((s) => `${s}\n`).join('');
      writeFileSync(join(dir, 'rows.jsonl'), rowsText);
      writeFileSync(join(dir, 'checkpoints.jsonl'), cpText);
      const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      m.files['rows.jsonl'].sha256 = createHash('sha256').update(rowsText).digest('hex');
      m.files['checkpoints.jsonl'].sha256 = createHash('sha256').update(cpText).digest('hex');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
      return dir;
    };

    it('exports a bundle that verifies, and an independent node:crypto oracle agrees', () => {
      const report = verifyBundle(bundle, keys, sinkSeals());
      assert.deepEqual(report.problems, []);
      assert.ok(report.ok && report.checkpoints >= 5, JSON.stringify(report));
      const rows = rowsOf(bundle);
      const seals = sealsOf(bundle);
      // Oracle: each row's SHA-256 over sorted-key JSON of its columns (v: 1, no id, no hash).
      for (const r of rows) {
        const { id: _id, hash, ...cols } = r;
        assert.equal(createHash('sha256').update(canon({ ...cols, v: 1 })).digest('hex'), hash, `row ${r.id}`);
      }
      // Oracle: each seal's HMAC-SHA256 under its key, coverage counts, and the seal chain.
      const key = { k1: K1, k2: K2 } as Record<string, string>;
      let prevIdx = -1;
      let prevMac = '';
      for (const s of seals) {
        const { mac, ...body } = s;
        assert.equal(createHmac('sha256', key[s.key_id]!).update(canon(body)).digest('hex'), mac);
        assert.equal(s.key_id, 'k2');
        assert.equal(s.prev_mac, prevMac);
        const idx = rows.findIndex((r) => r.id === s.last_id);
        assert.equal(rows[idx]!.hash, s.last_hash);
        assert.equal(idx - prevIdx, s.count);
        prevIdx = idx;
        prevMac = mac;
      }
      const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
      assert.equal(manifest.rows, rows.length);
      assert.equal(manifest.files['rows.jsonl'].sha256, createHash('sha256').update(readFileSync(join(bundle, 'rows.jsonl'))).digest('hex'));
    });

    it('names an edited row, a deleted middle row and a reordered pair', () => {
      const rows = rowsOf(bundle);
      // Tamper with request rows only, away from seal rows: where the seals fall depends on timing
      // (every 40 rows or every second), and a seal row changed is a different finding.
      const inner = (from: number) => {
        for (let i = from; i < rows.length - 2; i++) if ([i - 1, i, i + 1, i + 2].every((j) => rows[j]!.event === 'inference')) return i;
        throw new Error(`no four request rows in a row after index ${from}`);
      };
      const ei = inner(57);
      const edited = rows.map((r, i) => (i === ei ? { ...r, cost_micros: '1' } : r));
      const e = verifyBundle(tampered(edited), keys);
      assert.equal(e.problems[0]!.kind, 'edited', JSON.stringify(e.problems[0]));
      assert.equal(e.problems[0]!.row_id, rows[ei]!.id);

      const di = inner(ei + 4);
      const deleted = rows.filter((_, i) => i !== di);
      const d = verifyBundle(tampered(deleted), keys);
      assert.equal(d.problems[0]!.kind, 'deleted', JSON.stringify(d.problems[0]));
      assert.match(d.problems[0]!.message, new RegExp(`seq ${rows[di]!.seq} is missing before row ${rows[di + 1]!.id}`));

      const oi = inner(di + 4);
      const reordered = [...rows];
      [reordered[oi], reordered[oi + 1]] = [reordered[oi + 1]!, reordered[oi]!];
      const o = verifyBundle(tampered(reordered), keys);
      assert.equal(o.problems[0]!.kind, 'reordered', JSON.stringify(o.problems[0]));
      assert.equal(o.problems[0]!.row_id, rows[oi]!.id);
    });

    it('catches rows dropped after the last checkpoint that reached the sink, and a checkpoint signed with a wrong key', () => {
      const rows = rowsOf(bundle);
      const seals = sealsOf(bundle);
      // Drop the newest rows and every checkpoint covering them: the bundle alone looks whole…
      const keep = seals.slice(0, seals.length - 2);
      const cut = rows.findIndex((r) => r.id === keep.at(-1)!.last_id) + 1;
      const truncated = tampered(rows.slice(0, cut), keep.map((s) => JSON.stringify(s)));
      assert.ok(verifyBundle(truncated, keys).ok, 'without the sink copy the truncation is invisible, as expected');
      // …but the seals the sink received name the first missing row.
      const t = verifyBundle(truncated, keys, sinkSeals());
      assert.equal(t.problems[0]!.kind, 'truncated');
      assert.match(t.problems[0]!.message, new RegExp(`rows after row ${rows[cut - 1]!.id} are gone`));

      const forged = seals.map((s, i) => {
        if (i !== 1) return JSON.stringify(s);
        const { mac: _m, ...body } = s;
        return JSON.stringify({ ...body, mac: createHmac('sha256', 'not-the-key-0123456789abcdef0123456789').update(canon(body)).digest('hex') });
      });
      const w = verifyBundle(tampered(rows, forged), keys);
      assert.equal(w.problems[0]!.kind, 'bad_checkpoint');
      assert.match(w.problems[0]!.message, /checkpoint 2 \(key k2.*is not signed by its key/);
    });

    it('the CLI verifies a bundle offline with a key file, and names the first problem', async () => {
      const keyFile = join(mkdtempSync(join(tmpdir(), 'tollgate-keys-')), 'audit-keys');
      writeFileSync(keyFile, `# rotated\nk1 ${K1}\nk2 ${K2}\n`);
      const ok = await runCli(['audit', 'verify-bundle', bundle, '--key-file', keyFile]);
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, /bundle verified: \d+ rows, \d+ checkpoints/);
      const rows = rowsOf(bundle);
      const bad = await runCli(['audit', 'verify-bundle', tampered(rows.filter((_, i) => i !== 10)), '--key-file', keyFile]);
      assert.equal(bad.code, 1, bad.out);
      assert.match(bad.out, new RegExp(`first problem: deleted: chain \\S+ seq ${rows[10]!.seq} is missing`));
    });
  });
}

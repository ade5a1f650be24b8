/**
 * Checkpoint keys: key files (`<key id> <secret>` lines, several = rotation), inline keys, and
 * the sentences boot gives for a short secret, a repeated id or a signing key that is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeyFile, signSeal, checkSeal } from '../../gateway-server/src/audit/checkpoint/seal';
import { loadSealKeys } from '../../gateway-server/src/audit/checkpoint/checkpointer';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('audit checkpoint keys', () => {
  it('reads key_file lines and inline keys together; any listed key verifies, the signing key signs', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-seal-')), 'keys');
    writeFileSync(file, `# from the secret manager\nold ${A}\n`);
    const keys = loadSealKeys({ every_rows: 10, every_seconds: 1, signing_key_id: 'new', keys: [{ id: 'new', key: B }], key_file: file });
    assert.deepEqual([...keys.keys()].sort(), ['new', 'old']);
    const body = { v: 1 as const, key_id: 'old', from_txid: '0', from_id: '0', last_txid: '5', last_id: '9', last_hash: 'h', count: 9, at: '2026-12-04T00:00:00.000Z', prev_mac: '' };
    const old = signSeal(body, 'old', keys);
    assert.equal(checkSeal(old, keys), 'ok');
    assert.equal(checkSeal(old, new Map([['new', Buffer.from(B)]])), 'unknown_key');
    assert.equal(checkSeal({ ...old, count: 8 }, keys), 'bad_mac');
  });

  it('refuses a short secret, a repeated id and a missing signing key with sentences', () => {
    assert.throws(() => parseKeyFile('k short', 'keys.txt'), /keys\.txt line 1: the secret of key k is shorter than 32 characters/);
    assert.throws(() => parseKeyFile(`k ${A}\nk ${B}`, 'keys.txt'), /line 2: key id k appears twice/);
    assert.throws(() => loadSealKeys({ every_rows: 1, every_seconds: 1, signing_key_id: 'x', keys: [{ id: 'y', key: A }] }), /signing_key_id: no key with id x/);
  });
});

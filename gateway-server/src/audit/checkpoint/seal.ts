/**
 * Keyed checkpoints ("seals") of the audit stream. Pure: no database, no Fastify.
 *
 * A seal covers the committed rows after the previous seal's last row, up to and including
 * `last_id`, in stream order. Its MAC is HMAC-SHA256, keyed by the key named `key_id`, over the
 * canonical JSON (sorted keys, no spaces) of every field but `mac`. Without the key, nobody can
 * write a seal that matches rewritten or dropped rows, and seals already shipped to a sink pin
 * the newest rows they cover.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from '../../protocol/settings';

export interface Seal {
  v: 1;
  key_id: string;
  /** Stream position after which this seal starts (the previous seal's last row; `0`/`0` for the first). */
  from_txid: string;
  from_id: string;
  last_txid: string;
  last_id: string;
  last_hash: string;
  /** Rows covered: stream rows after `from` up to and including `last_id`. */
  count: number;
  at: string;
  /** MAC of the previous seal ('' for the first): seals form a chain too. */
  prev_mac: string;
  mac: string;
}

export type SealKeys = ReadonlyMap<string, Buffer>;

export function sealMac(seal: Omit<Seal, 'mac'>, key: Buffer): string {
  const { mac: _drop, ...body } = seal as Seal;
  return createHmac('sha256', key).update(canonicalJson(body)).digest('hex');
}

export function signSeal(body: Omit<Seal, 'mac'>, keyId: string, keys: SealKeys): Seal {
  const key = keys.get(keyId);
  if (!key) throw new Error(`no key with id ${keyId}`);
  return { ...body, key_id: keyId, mac: sealMac({ ...body, key_id: keyId }, key) };
}

/** 'ok', or why the seal does not verify with the keys given. */
export function checkSeal(seal: Seal, keys: SealKeys): 'ok' | 'unknown_key' | 'bad_mac' {
  const key = keys.get(seal.key_id);
  if (!key) return 'unknown_key';
  const want = Buffer.from(sealMac(seal, key), 'hex');
  const got = Buffer.from(String(seal.mac), 'hex');
  return want.length === got.length && timingSafeEqual(want, got) ? 'ok' : 'bad_mac';
}

/**
 * A key file: one key per line, `<key id> <secret>` (blank lines and `#` comments ignored).
 * Secrets are at least 32 characters. Several lines = several keys (rotation: old ids still verify).
 */
export function parseKeyFile(text: string, where: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(\S+)\s+(\S.*)$/.exec(line);
    if (!m) throw new Error(`${where} line ${i + 1}: expected "<key id> <secret>"`);
    if (m[2]!.length < 32) throw new Error(`${where} line ${i + 1}: the secret of key ${m[1]} is shorter than 32 characters`);
    if (keys.has(m[1]!)) throw new Error(`${where} line ${i + 1}: key id ${m[1]} appears twice`);
    keys.set(m[1]!, Buffer.from(m[2]!, 'utf8'));
  });
  return keys;
}

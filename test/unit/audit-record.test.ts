/**
 * The audit row's canonical form: stable across the shapes the two drivers return, sensitive to
 * every content column, and free of secrets and content.
 */
import assert from 'node:assert/strict';
import { canonicalJson } from '../../gateway-server/src/protocol/settings';
import { CONTENT_COLUMNS, canonicalRow, gatewayEventContent, GENESIS_HASH, inferenceContent, normaliseRow, rowHash } from '../../gateway-server/src/audit/record';
import { emptyUsage } from '../../gateway-server/src/inference/usage-tap';

const base = () => {
  const content = inferenceContent({
    requestId: 'req-1',
    at: new Date('2026-11-27T10:00:00.123Z'),
    principal: { sub: 'u1', email: 'a@example.com', groups: ['b', 'a'], exp: 0, tokenHash: 'h' },
    operation: 'messages',
    model: 'claude-sonnet-4-6',
    upstream: 'anthropic',
    status: 200,
    outcome: 'ok',
    usage: { ...emptyUsage(), input_tokens: 25, output_tokens: 11 },
    costMicros: 240,
    latencyMs: 812.4,
    stream: true,
  });
  return { ...content, chain: 'c', seq: '1', prev_hash: GENESIS_HASH };
};

describe('audit record', () => {
  it('hashes the same whether values come back as strings or numbers', () => {
    const row = base();
    const fromDriver = normaliseRow({ ...row, seq: 1, status: '200', latency_ms: '812', at: row.at.toISOString(), input_tokens: '25', hash: 'x' });
    const { hash: _h, ...rest } = fromDriver;
    assert.equal(rowHash(rest), rowHash(row));
    assert.equal(row.latency_ms, 812);
  });

  it('changes the hash when any content column changes', () => {
    const row = base();
    const h = rowHash(row);
    for (const [k, v] of Object.entries({ sub: 'u2', cost_micros: '241', outcome: 'upstream_error', groups: ['a'], seq: '2', prev_hash: 'f'.repeat(64) })) {
      assert.notEqual(rowHash({ ...row, [k]: v }), h, k);
    }
    assert.match(canonicalRow(row), /^\{"actor":null,"at":"2026-11-27T10:00:00.123Z"/);
  });

  it('serialises exactly as the generic canonical JSON of the row (the hash format does not change)', () => {
    const generic = (row: ReturnType<typeof base>) => {
      const o: Record<string, unknown> = { v: 1, chain: row.chain, seq: row.seq, prev_hash: row.prev_hash };
      for (const c of CONTENT_COLUMNS) o[c] = c === 'at' ? row.at.toISOString() : (row[c] ?? null);
      return canonicalJson(o);
    };
    const rows = [
      base(),
      { ...base(), groups: null, detail: null, email: 'quote"and\\backslash\u2028é', reason: 'x\ny' },
      { ...base(), detail: { z: 1, a: { y: [1, 'b', null], b: true } }, status: null, latency_ms: 0 },
      {
        ...gatewayEventContent({ name: 'admin.mutation', at: new Date(0), outcome: 'ok', actor: 'k', detail: { b: 2, a: [{ d: 1, c: 2 }] } }),
        chain: 'host/1/ab',
        seq: '99',
        prev_hash: 'f'.repeat(64),
      },
    ];
    for (const row of rows) assert.equal(canonicalRow(row), generic(row));
  });

  it('drops secret-looking keys from event details', () => {
    const c = gatewayEventContent({ name: 'session.mint', at: new Date(), outcome: 'ok', detail: { client: 'cli', refresh_token: 'r', nested: { api_key: 'k', ok: 1 } } });
    assert.deepEqual(c.detail, { client: 'cli', nested: { ok: 1 } });
  });
});

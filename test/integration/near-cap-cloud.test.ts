/**
 * Near a cap, a request that fits only without prompt caching goes out without cache_control to
 * Bedrock and Vertex too (their adapters re-serialise the Messages body): a capped user on real
 * PostgreSQL, Claude Code's marker placement, and a budget between the two worst cases. Sonnet 4.6
 * list prices written out here: $3 in, $3.75 5-minute cache write, $15 out per million tokens.
 */
import assert from 'node:assert/strict';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock';
import { createTestServiceAccount, signAssertion, startMockVertex, type MockVertex } from '../support/mock-vertex';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { waitFor } from '../support/wait';
import { SCRIPTED, bedrockConfig, vertexConfig } from '../support/cloud-fixtures';
import { unmarked } from '../support/mock-prompt-cache';
import { VertexUpstream } from '../../gateway-server/src/routing/vertex';
import type { ResolvedUpstream } from '../../gateway-server/src/config/load';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
const EPHEMERAL = { type: 'ephemeral' };
/** The upstream's count; the gateway bounds the prompt at 20 000 + 400 (2%) + 100 = 20 500 tokens. */
const COUNT = 20_000;
const CAP_MICROS = 80_000n;
// With markers, at the floor of 1024 output tokens: 20 500 × $3.75 + 1024 × $15 = 92 235 µ$ > the cap.
// Without: 20 500 × $3 = 61 500 µ$, leaving (80 000 − 61 500) / 15 = 1233 output tokens.
const EXPECTED_MAX_TOKENS = 1233;

const body = {
  model: 'claude-sonnet-4-6',
  max_tokens: 32000,
  stream: true,
  thinking: { type: 'adaptive' },
  system: [{ type: 'text', text: 'You are Claude Code.', cache_control: EPHEMERAL }],
  tools: [{ name: 'Read', description: 'read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } }, cache_control: EPHEMERAL }],
  // ~100 KB, so the byte bound (one token per byte) does not fit and the prompt is counted.
  messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(100_000) }, { type: 'text', text: 'fix the bug', cache_control: EPHEMERAL }] }],
};

describe('near a cap on Bedrock and Vertex: a request that fits only without prompt caching goes out without cache_control', function () {
  let tdb: TestDatabase;
  let mockB: MockBedrock;
  let mockV: MockVertex;
  let gwB: TestGateway;
  let gwV: TestGateway;

  before(async function () {
    this.timeout(60_000);
    tdb = await createTestDatabase('postgres');
    mockB = await startMockBedrock();
    const sa = createTestServiceAccount();
    mockV = await startMockVertex(sa);
    const admin = { write_keys: [{ id: 'ops', key: WRITE_KEY }] };
    const enforcement = { min_output_tokens: 1024 };
    gwB = await startTestGateway({ config: testConfig({ upstreams: [bedrockConfig(mockB.url)], admin, enforcement }), db: tdb.db });
    const vcfg = testConfig({ upstreams: [vertexConfig(mockV.baseUrl)], admin, enforcement });
    let token: Promise<string> | undefined;
    const vertex = new VertexUpstream(vcfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'vertex' }>, {
      ttfbMs: 2000,
      tokenSource: () => (token ??= mockV.fetchToken(signAssertion(sa.privateKeyPem, sa.clientEmail))),
    });
    gwV = await startTestGateway({ config: vcfg, db: tdb.db, upstreams: [vertex] });
  });
  after(async () => {
    await gwB?.close();
    await gwV?.close();
    await mockB?.close();
    await mockV?.close();
    await tdb?.drop();
  });

  for (const which of ['bedrock', 'vertex'] as const) {
    it(`${which}: forwarded without any cache_control, max_tokens lowered to what the input rate leaves; spend within the cap`, async function () {
      this.timeout(60_000);
      const gw = which === 'bedrock' ? gwB : gwV;
      const mock = which === 'bedrock' ? mockB : mockV;
      const dev = `cloud-${which}`;
      mock.defaults = { countTokens: COUNT, reply: { ...SCRIPTED, cacheReadInputTokens: 0 } };
      const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: dev }, amount: String(CAP_MICROS / 10_000n), period: 'daily' }),
      });
      assert.equal(r.status, 200, await r.clone().text());
      await waitFor(`${dev}'s cap is in force`, async () => {
        const e = await fetch(`${gw.url}/v1/organizations/spend_limits/effective?user_ids[]=${dev}&period[]=daily`, { headers: { 'x-api-key': WRITE_KEY } });
        return ((await e.json()) as { data: { amount: string | null }[] }).data[0]?.amount === String(CAP_MICROS / 10_000n);
      });
      const from = mock.requests.length;
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.mint({ sub: dev, groups: [] })}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const sent = mock.requests.slice(from).filter((q) => !q.url.includes('count-tokens'));
      assert.equal(sent.length, 1, 'one Messages request reached the upstream');
      const j = sent[0]!.json!;
      assert.ok(!JSON.stringify(j).includes('cache_control'), 'no cache_control reached the upstream');
      assert.equal(j.max_tokens, EXPECTED_MAX_TOKENS);
      const { model: _m, stream: _s, ...rest } = unmarked(body) as Record<string, unknown>;
      for (const [k, v] of Object.entries(rest)) if (k !== 'max_tokens') assert.deepEqual(j[k], v, `${k} forwarded as the client sent it, markers aside`);
      await waitFor('the charge is stored', async () => {
        const { rows } = await tdb.db.query<{ spent_micros: string }>('SELECT spent_micros FROM spend_counters WHERE principal = $1', [dev]);
        return rows.length > 0 && rows.every((c) => BigInt(c.spent_micros) > 0n);
      });
      const { rows } = await tdb.db.query<{ s: string }>('SELECT sum(cost_micros)::text AS s FROM spend_ledger WHERE principal = $1', [dev]);
      // The scripted usage: 31 input tokens at $3 and 57 output tokens at $15 per million = 93 + 855 µ$.
      assert.equal(rows[0]!.s, '948');
    });
  }
});

/**
 * Near a hard cap on Bedrock and Vertex (issue 16): the prompt is counted through the cloud's own
 * count-tokens endpoint (Bedrock CountTokens, Vertex count-tokens:rawPredict), the request goes out
 * with `max_tokens` lowered to what the budget left pays for, and with counting off the same
 * request is refused (its byte bound alone is over the cap). Oracle: list prices and the
 * documented bound (count + 2% + 100 tokens), computed here, not read from the gateway.
 */
import assert from 'node:assert/strict';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock';
import { createTestServiceAccount, signAssertion, startMockVertex, type MockVertex, type TestServiceAccount } from '../support/mock-vertex';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { VertexUpstream } from '../../gateway-server/src/routing/vertex';
import type { ResolvedUpstream } from '../../gateway-server/src/config/load';
import { bedrockConfig, vertexConfig, rawPost } from '../support/cloud-fixtures';
import { setSpendLimit } from '../support/spend-limits';

const WRITE_KEY = 'wk-nearcap-cloud-0123456789abcdef0123';
const COUNT = 500;
// Sonnet list prices, µ$ per token.
const IN = 3;
const OUT = 15;
const CAP_CENTS = 5;

describe('near a hard cap on Bedrock and Vertex: counted prompt, lowered max_tokens', function () {
  let tdb: TestDatabase;
  let mockB: MockBedrock;
  let mockV: MockVertex;
  let sa: TestServiceAccount;
  const gws: TestGateway[] = [];

  before(async function () {
    this.timeout(60_000);
    tdb = await createTestDatabase('pglite');
    mockB = await startMockBedrock();
    sa = createTestServiceAccount();
    mockV = await startMockVertex(sa);
  });
  after(async () => {
    for (const gw of gws) await gw.close();
    await mockB?.close();
    await mockV?.close();
    await tdb?.drop();
  });

  async function gateway(kind: 'bedrock' | 'vertex', counting: boolean): Promise<TestGateway> {
    const common = {
      admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
      enforcement: { reservation: 'request' as const, count_tokens_near_cap: counting },
    };
    let gw: TestGateway;
    if (kind === 'bedrock') {
      gw = await startTestGateway({ config: testConfig({ upstreams: [bedrockConfig(mockB.url)], ...common }), db: tdb.db });
    } else {
      let token: Promise<string> | undefined;
      const cfg = testConfig({ upstreams: [vertexConfig(mockV.baseUrl)], ...common });
      const vertex = new VertexUpstream(cfg.upstreams[0] as Extract<ResolvedUpstream, { provider: 'vertex' }>, {
        ttfbMs: 2000,
        tokenSource: () => (token ??= mockV.fetchToken(signAssertion(sa.privateKeyPem, sa.clientEmail))),
      });
      gw = await startTestGateway({ config: cfg, db: tdb.db, upstreams: [vertex] });
    }
    gws.push(gw);
    return gw;
  }

  // ~20 KB of prompt: as a byte bound (20k tokens × $3/M = $0.06) it is over the 5-cent cap by itself.
  const body = { model: 'claude-sonnet-4-6', max_tokens: 64000, messages: [{ role: 'user', content: `review this: ${'x'.repeat(20_000)}` }] };

  for (const kind of ['bedrock', 'vertex'] as const) {
    it(`${kind}: counts the prompt upstream and forwards max_tokens lowered to what the cap pays for`, async function () {
      this.timeout(60_000);
      const gw = await gateway(kind, true);
      const sub = `${kind}-near-cap`;
      await setSpendLimit({ via: gw.url, adminKey: WRITE_KEY, userId: sub, amount: String(CAP_CENTS) });
      const mock = kind === 'bedrock' ? mockB : mockV;
      mock.requests.length = 0;
      mock.defaults = { countTokens: COUNT, reply: { inputTokens: COUNT, outputTokens: 200 } };
      const r = await rawPost({ url: gw.url, mint: () => gw.mint({ sub, groups: [] }) }, '/v1/messages', body);
      assert.equal(r.status, 200, r.text);

      const counts = mock.requests.filter((q) => /count-tokens/.test(q.url));
      const sends = mock.requests.filter((q) => !/count-tokens/.test(q.url));
      assert.equal(counts.length, 1, `one count through ${kind}'s count-tokens endpoint`);
      assert.equal(sends.length, 1);
      const sent = sends[0]!.json!.max_tokens as number;
      const promptBound = (COUNT + Math.ceil(COUNT * 0.02) + 100) * IN;
      const affordable = Math.floor((CAP_CENTS * 10_000 - promptBound) / OUT);
      assert.ok(sent >= 1024 && sent <= affordable, `forwarded max_tokens ${sent}, the cap pays for at most ${affordable}`);
      assert.ok(sent >= affordable - 10, `forwarded max_tokens ${sent} uses the budget (at most ${affordable})`);
    });
  }

  it('with counting off, the same request is refused on its byte bound (the counting above is what admits it)', async function () {
    this.timeout(60_000);
    const gw = await gateway('bedrock', false);
    const sub = 'bedrock-near-cap-uncounted';
    await setSpendLimit({ via: gw.url, adminKey: WRITE_KEY, userId: sub, amount: String(CAP_CENTS) });
    mockB.requests.length = 0;
    mockB.defaults = { countTokens: COUNT };
    const r = await rawPost({ url: gw.url, mint: () => gw.mint({ sub, groups: [] }) }, '/v1/messages', body);
    assert.equal(r.status, 429, r.text);
    assert.equal(mockB.requests.length, 0, 'nothing reached Bedrock');
  });
});

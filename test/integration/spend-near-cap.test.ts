/**
 * Near-cap admission (issue 16 item 2): a scripted developer sending Claude Code's request shapes
 * (Opus, max_tokens 64000, adaptive thinking, ~80 KB bodies with cache_control, streaming) against
 * a $3 daily cap, in both hard-mode reservation designs on real PostgreSQL. Near the cap the
 * gateway lowers the forwarded max_tokens instead of refusing; the first 429 comes only when not
 * even `enforcement.min_output_tokens` of output fits, and recorded spend never passes the cap.
 * The oracle prices with Anthropic's published Opus 4.5+ rates ($5 in, $25 out, cache write
 * $6.25, cache read $0.50 per million tokens), written out here, not taken from the gateway.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { waitFor } from '../support/wait';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
const CAP_MICROS = 3_000_000n;
// Opus 4.5+ list prices, µ$ per token ×1e6 (per million tokens).
const IN = 5_000_000n;
const OUT = 25_000_000n;
const CW = 6_250_000n;
const CR = 500_000n;
const MIN_OUTPUT = 1024;

/** A Claude Code turn: ~80 KB that grows by ~1 KB a turn (see shared/reference/claude-code-client.md). */
function claudeCodeBody(turn: number): string {
  const tools = Array.from({ length: 25 }, (_, i) => ({
    name: `Tool${i}`,
    description: `Tool ${i}. ${'Use this tool to work on files in the workspace. '.repeat(48)}`,
    input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  }));
  const messages = [];
  for (let t = 0; t <= turn; t++) {
    messages.push({ role: 'user', content: [{ type: 'text', text: `Turn ${t}: ${'please change the function and run the tests. '.repeat(11)}` }] });
    if (t < turn) messages.push({ role: 'assistant', content: [{ type: 'text', text: `Done with turn ${t}. ${'edited the file. '.repeat(30)}` }] });
  }
  return JSON.stringify({
    model: 'claude-opus-4-8',
    messages,
    system: [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.300; cc_entrypoint=cli;' },
      { type: 'text', text: `You are Claude Code. ${'Follow the instructions. '.repeat(400)}`, cache_control: { type: 'ephemeral' } },
    ],
    tools,
    metadata: { user_id: JSON.stringify({ device_id: 'd'.repeat(64), session_id: '7a1b' }) },
    max_tokens: 64000,
    thinking: { type: 'adaptive' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    output_config: { effort: 'high' },
    stream: true,
  });
}

/** The most a body can cost with `maxTokens` of output: every byte a token plus 1000, at the cache-write rate. */
const worst = (bytes: number, maxTokens: number) => (BigInt(bytes + 1000) * CW + BigInt(maxTokens) * OUT + 999_999n) / 1_000_000n;

for (const reservation of ['lease', 'request'] as const) {
  describe(`near-cap admission: a Claude Code developer against a $3 daily cap (postgres, reservation: ${reservation})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic();
      tdb = await createTestDatabase('postgres');
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }], blocked_message: 'ask #eng-budget to raise it' },
        enforcement: { reservation, min_output_tokens: MIN_OUTPUT },
      });
      gw = await startTestGateway({ config, db: tdb.db });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await mock?.close();
    });

    it('the Anthropic SDK near the cap: a lowered answer that runs long is a message with stop_reason max_tokens', async function () {
      const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: 'sdk-dev' }, amount: '100', period: 'daily' }),
      });
      assert.equal(r.status, 200, await r.clone().text());
      await waitFor("sdk-dev's $1 cap is in force", async () => {
        const e = await fetch(`${gw.url}/v1/organizations/spend_limits/effective?user_ids[]=sdk-dev&period[]=daily`, { headers: { 'x-api-key': WRITE_KEY } });
        return ((await e.json()) as { data: { amount: string | null }[] }).data[0]?.amount === '100';
      });
      // $1 cannot cover 64 000 Opus output tokens ($1.60): the request goes out with fewer, and the answer stops there.
      mock.queue = [{ reply: { inputTokens: 20, outputTokens: 60_000 }, honourMaxTokens: true }];
      const client = new Anthropic({ baseURL: gw.url, authToken: gw.mint({ sub: 'sdk-dev', groups: [] }), apiKey: null, maxRetries: 0 });
      const msg = await client.messages.stream({ model: 'claude-opus-4-8', max_tokens: 64000, messages: [{ role: 'user', content: 'write the whole module' }] }).finalMessage();
      const sent = (mock.requests.at(-1)!.json as { max_tokens: number }).max_tokens;
      assert.ok(sent >= MIN_OUTPUT && sent < 40_000, `forwarded max_tokens ${sent}`);
      assert.equal(msg.stop_reason, 'max_tokens');
      assert.equal(msg.usage.output_tokens, sent);
    });

    it('spends the cap down to what one more minimal request could cost; the upstream gets the lowered max_tokens; never over the cap', async function () {
      this.timeout(300_000);
      const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: 'dev' }, amount: '300', period: 'daily' }),
      });
      assert.equal(r.status, 200, await r.clone().text());
      await waitFor("dev's $3 cap is in force", async () => {
        const e = await fetch(`${gw.url}/v1/organizations/spend_limits/effective?user_ids[]=dev&period[]=daily`, { headers: { 'x-api-key': WRITE_KEY } });
        return ((await e.json()) as { data: { amount: string | null }[] }).data[0]?.amount === '300';
      });
      const token = gw.mint({ sub: 'dev', groups: [] });
      // Outputs of a working session: short answers and long edits, cache mostly read.
      const outputs = [2000, 6000, 24000, 3000];
      let spentOracle = 0n;
      let refusal: { status: number; text: string; headers: Headers; bytes: number } | undefined;
      const lowered: { sent: string; got: Buffer; stop: string }[] = [];
      for (let turn = 0; turn < 200 && !refusal; turn++) {
        const body = claudeCodeBody(turn);
        const usage = { inputTokens: 40, cacheReadInputTokens: 18_000, cacheCreationInputTokens: 1_200, outputTokens: outputs[turn % outputs.length]! };
        mock.queue = [{ reply: usage, honourMaxTokens: true }];
        const before = mock.requests.length;
        const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body });
        const text = await res.text();
        if (res.status !== 200) {
          refusal = { status: res.status, text, headers: res.headers, bytes: Buffer.byteLength(body) };
          assert.equal(mock.requests.length, before, 'a refused request never reaches the upstream');
          break;
        }
        const got = mock.requests.at(-1)!;
        const sentMax = (got.json as { max_tokens: number }).max_tokens;
        const out = Math.min(usage.outputTokens, sentMax);
        spentOracle += (40n * IN + 18_000n * CR + 1_200n * CW + BigInt(out) * OUT + 999_999n) / 1_000_000n;
        if (sentMax !== 64000) lowered.push({ sent: body, got: got.body, stop: /"stop_reason":"(\w+)"/.exec(text)?.[1] ?? '' });
      }
      assert.ok(refusal, 'the developer reached the cap');

      // The books: recorded spend equals the usage priced independently, and never passes the cap.
      await waitFor('every charge is stored', async () => {
        const { rows } = await tdb.db.query<{ spent_micros: string; reserved_micros: string }>("SELECT spent_micros, reserved_micros FROM spend_counters WHERE principal = 'dev'");
        return rows.length > 0 && rows.every((c) => BigInt(c.spent_micros) === spentOracle);
      });
      const { rows: ledger } = await tdb.db.query<{ s: string }>("SELECT sum(cost_micros)::text AS s FROM spend_ledger WHERE principal = 'dev'");
      const spent = BigInt(ledger[0]!.s);
      assert.equal(spent, spentOracle, 'ledger = usage × list price');
      assert.ok(spent <= CAP_MICROS, `recorded spend ${spent} µ$ passes the $3 cap`);

      // Lowered requests: only the max_tokens value differs from what the client sent; the answer stops at max_tokens.
      assert.ok(lowered.length >= 1, 'near the cap, requests were forwarded with a lowered max_tokens');
      for (const l of lowered) {
        const m = (JSON.parse(l.got.toString('utf8')) as { max_tokens: number }).max_tokens;
        assert.ok(m >= MIN_OUTPUT && m < 64000);
        assert.equal(l.got.toString('utf8'), l.sent.replace('"max_tokens":64000', `"max_tokens":${m}`), 'every other byte forwarded unchanged');
      }
      assert.ok(lowered.some((l) => l.stop === 'max_tokens'), 'a lowered answer that ran long ends with stop_reason max_tokens');

      // The 429: Anthropic's envelope, what is left, what the request needs, when it resets; headers kept.
      assert.equal(refusal.status, 429);
      const err = JSON.parse(refusal.text) as { type: string; error: { type: string; message: string } };
      assert.equal(err.type, 'error');
      assert.equal(err.error.type, 'billing_error');
      const left = CAP_MICROS - spent;
      const least = worst(refusal.bytes, MIN_OUTPUT);
      assert.ok(left < least, `refused with ${left} µ$ left although ${least} µ$ covers the request at ${MIN_OUTPUT} output tokens`);
      const usd = (m: bigint) => `$${(Number(m) / 1e6).toFixed(Number(m) < 100_000 ? 4 : 2)}`;
      assert.ok(err.error.message.includes(`${usd(left)} left`), err.error.message);
      assert.ok(err.error.message.includes(`at least ${usd(least)}`), err.error.message);
      assert.match(err.error.message, /resets /);
      assert.match(err.error.message, /ask #eng-budget to raise it/);
      assert.equal(refusal.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
      assert.ok(Number(refusal.headers.get('retry-after')) > 0);

      const fraction = Number(spent) / Number(CAP_MICROS);
      console.log(`      ${reservation}: spent ${usd(spent)} of $3.00 (${(fraction * 100).toFixed(1)}%) before the first 429; ${lowered.length} request(s) lowered; refused with ${usd(left)} left, ${usd(least)} needed for a ${refusal.bytes}-byte request`);
      // What is out of reach is exactly the proven worst case of the prompt: its bytes at the cache-write rate.
      assert.ok(spent >= CAP_MICROS - least, 'refused only when even the floor did not fit');
      assert.ok(fraction >= 0.8, `spent only ${(fraction * 100).toFixed(1)}% of the cap before the first 429`);
    });
  });
}

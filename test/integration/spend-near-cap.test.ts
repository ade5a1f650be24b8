/**
 * Near-cap admission (issue 16 item 2): a scripted developer sending Claude Code's request shapes
 * (Opus, max_tokens 64000, adaptive thinking, ~80 KB bodies with cache_control, streaming) against
 * a $3 daily cap, in both hard-mode reservation designs on real PostgreSQL. Near the cap the
 * gateway lowers the forwarded max_tokens instead of refusing, and when even that does not fit
 * with the prompt at the cache-write rate, forwards the request without cache_control (priced at
 * the input rate); the first 429 comes only when not even `enforcement.min_output_tokens` of
 * output fits, and recorded spend never passes the cap. The mock upstream simulates Anthropic's
 * prompt cache (reads, writes, plain input from the breakpoints it receives). The oracle prices
 * with Anthropic's published rates (Opus 4.5+: $5 in, $25 out, cache write $6.25, cache read
 * $0.50 per million tokens), written out here, not taken from the gateway.
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { mockTokenCount, startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { unmarked } from '../support/mock-prompt-cache';
import { waitFor } from '../support/wait';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { runClaude } from '../support/claude-cli';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
const CAP_MICROS = 3_000_000n;
/** Anthropic's list prices, µ$ per million tokens: input, output, 5-minute cache write, cache read. */
const RATES = {
  opus: { IN: 5_000_000n, OUT: 25_000_000n, CW: 6_250_000n, CR: 500_000n },
  sonnet: { IN: 3_000_000n, OUT: 15_000_000n, CW: 3_750_000n, CR: 300_000n },
};
// The SDK test's oracle: Opus 4.5+.
const { OUT } = RATES.opus;
const MIN_OUTPUT = 1024;

/**
 * A Claude Code turn, in the real CLI's request shape: the body the real `claude -p --model opus`
 * sent through this gateway (captured in `before`: model, max_tokens, system, tools, betas,
 * thinking, output_config, cache_control on the last user block), with the conversation grown by
 * ~1 KB a turn and the cache breakpoint moved to the new last user block, as the CLI does.
 */
function claudeCodeBody(captured: Record<string, unknown>, turn: number): string {
  const first = (captured.messages as { role: string; content: Record<string, unknown>[] }[])[0]!;
  const strip = (blocks: Record<string, unknown>[]) => blocks.map(({ cache_control: _c, ...b }) => b);
  const messages: { role: string; content: Record<string, unknown>[] }[] = [{ role: 'user', content: strip(first.content) }];
  for (let t = 1; t <= turn; t++) {
    messages.push({ role: 'assistant', content: [{ type: 'text', text: `Done with turn ${t}. ${'edited the file. '.repeat(30)}` }] });
    messages.push({ role: 'user', content: [{ type: 'text', text: `Turn ${t}: ${'please change the function and run the tests. '.repeat(11)}` }] });
  }
  const last = messages.at(-1)!.content;
  last[last.length - 1] = { ...last[last.length - 1], cache_control: { type: 'ephemeral' } };
  return JSON.stringify({ ...captured, messages });
}

type Rates = (typeof RATES)['opus'];
/** The most a body can cost with `maxTokens` of output, byte bound: every byte a token plus 1000, at `inRate` (the cache-write rate when it has cache_control). */
const worst = (r: Rates, bytes: number, maxTokens: number, inRate = r.CW) => (BigInt(bytes + 1000) * inRate + BigInt(maxTokens) * r.OUT + 999_999n) / 1_000_000n;
/** The same with the prompt bounded by a count_tokens answer: the count plus 2% (rounded up) and 100 tokens. */
const worstCounted = (r: Rates, count: number, maxTokens: number, inRate = r.CW) => {
  const c = BigInt(count);
  return ((c + (c + 49n) / 50n + 100n) * inRate + BigInt(maxTokens) * r.OUT + 999_999n) / 1_000_000n;
};

// count_tokens_near_cap: false is the byte bound alone, drop_cache_control_near_cap: false keeps
// every request's cache_control (the designs before them), measured for comparison.
for (const [reservation, counting, dropping] of [
  ['lease', true, true],
  ['request', true, true],
  ['lease', false, true],
  ['lease', true, false],
] as const) {
  describe(`near-cap admission: a Claude Code developer against a $3 daily cap (postgres, reservation: ${reservation}, count_tokens_near_cap: ${counting}, drop_cache_control_near_cap: ${dropping})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    let gw: TestGateway;
    /** The bodies the real Claude Code CLI sent for its main request, per model. */
    const captured: Record<string, Record<string, unknown>> = {};

    before(async function () {
      this.timeout(180_000);
      mock = await startMockAnthropic({ promptCache: true });
      tdb = await createTestDatabase('postgres');
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }], blocked_message: 'ask #eng-budget to raise it' },
        enforcement: { reservation, min_output_tokens: MIN_OUTPUT, count_tokens_near_cap: counting, drop_cache_control_near_cap: dropping },
      });
      gw = await startTestGateway({ config, db: tdb.db });
      // The real CLI, uncapped: its main request (the one with tools) is the shape replayed below.
      for (const model of ['opus', 'sonnet']) {
        const from = mock.requests.length;
        const run = await runClaude({ baseUrl: gw.url, token: gw.mint({ sub: 'shape-capture', groups: [] }), prompt: 'say hi', model });
        assert.equal(run.code, 0, run.stdout + run.stderr);
        const main = mock.requests.slice(from).find((q) => q.url.startsWith('/v1/messages') && Array.isArray(q.json?.tools));
        assert.ok(main, 'the CLI sent its main request through the gateway');
        captured[model] = main.json!;
      }
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

    // A cold start: the developer's first turn writes the whole prompt to the cache. A warm start:
    // the CLI's own request (same system prompt and tools, as any colleague's) was cached just before.
    for (const model of ['opus', 'sonnet'] as const) for (const start of ['cold', 'warm'] as const) it(`${model}, ${start} prompt cache: spends the cap down to what one more minimal request could cost; near it the upstream gets a lowered max_tokens, then no cache_control; never over the cap`, async function () {
      this.timeout(300_000);
      const dev = `dev-${model}-${start}`;
      const rates = RATES[model];
      const { IN, CR, CW, OUT } = rates;
      const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: dev }, amount: '300', period: 'daily' }),
      });
      assert.equal(r.status, 200, await r.clone().text());
      await waitFor(`${dev}'s $3 cap is in force`, async () => {
        const e = await fetch(`${gw.url}/v1/organizations/spend_limits/effective?user_ids[]=${dev}&period[]=daily`, { headers: { 'x-api-key': WRITE_KEY } });
        return ((await e.json()) as { data: { amount: string | null }[] }).data[0]?.amount === '300';
      });
      const token = gw.mint({ sub: dev, groups: [] });
      const shape = captured[model]!;
      const maxTokens = shape.max_tokens as number;
      // Outputs of a working session: short answers and long edits.
      const outputs = [2000, 6000, 24000, 3000];
      const isMessages = (q: { url: string }) => q.url.startsWith('/v1/messages') && !q.url.includes('count_tokens');
      const isCount = (q: { url: string }) => q.url.includes('/count_tokens');
      let spentOracle = 0n;
      let refusal: { status: number; text: string; headers: Headers; bytes: number; plainBytes: number; count: number; counted: boolean } | undefined;
      const lowered: { sent: string; got: Buffer; stop: string; asked: number }[] = [];
      const uncached: { turn: number; maxTokens: number }[] = [];
      let cacheReads = 0;
      mock.clearPromptCache();
      if (start === 'warm') {
        const warm = await fetch(`${mock.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...shape, stream: false }) });
        assert.equal(warm.status, 200);
        assert.ok(mock.promptUsages.at(-1)!.cache_creation_input_tokens > 0, 'the CLI request warmed the cache');
      }
      for (let turn = 0; turn < 200 && !refusal; turn++) {
        const body = claudeCodeBody(shape, turn);
        const json = JSON.parse(body) as Record<string, unknown>;
        // The prompt side of the usage is the mock's prompt cache at work; the output is scripted.
        mock.queue = [{ reply: { outputTokens: outputs[turn % outputs.length]! }, honourMaxTokens: true }];
        const before = mock.requests.filter(isMessages).length;
        const countsBefore = mock.requests.filter(isCount).length;
        const byteBoundFits = worst(rates, Buffer.byteLength(body), maxTokens) <= CAP_MICROS - spentOracle;
        // ... and only if some count could make it fit: an empty prompt (100 tokens of margin) and the floor of output.
        const countCouldFit = (100n * (dropping ? IN : CW) + BigInt(MIN_OUTPUT) * OUT + 999_999n) / 1_000_000n <= CAP_MICROS - spentOracle;
        const res = await fetch(`${gw.url}/v1/messages?beta=true`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body });
        const text = await res.text();
        // count_tokens is asked only near the cap: when the byte bound no longer fits.
        const counted = mock.requests.filter(isCount).length - countsBefore;
        assert.equal(counted, counting && !byteBoundFits && countCouldFit ? 1 : 0, `turn ${turn}: count_tokens requests`);
        const count = mockTokenCount(json);
        if (res.status !== 200) {
          refusal = { status: res.status, text, headers: res.headers, bytes: Buffer.byteLength(body), plainBytes: Buffer.byteLength(JSON.stringify(unmarked(json))), count, counted: counted === 1 };
          assert.equal(mock.requests.filter(isMessages).length, before, 'a refused request never reaches the upstream');
          break;
        }
        const got = mock.requests.filter(isMessages).at(-1)!;
        const sentMax = (got.json as { max_tokens: number }).max_tokens;
        const usage = mock.promptUsages[mock.requests.indexOf(got)]!;
        const out = BigInt(Math.min(outputs[turn % outputs.length]!, sentMax));
        const cost = (BigInt(usage.input_tokens) * IN + BigInt(usage.cache_read_input_tokens) * CR + BigInt(usage.cache_creation_input_tokens) * CW + out * OUT + 999_999n) / 1_000_000n;
        spentOracle += cost;
        cacheReads += usage.cache_read_input_tokens;
        const marked = got.body.includes('"cache_control"');
        // What this request could cost at most, by the formula that could have admitted it (input
        // rate without markers, cache-write rate with): its real cost never exceeds it.
        const inRate = marked ? CW : IN;
        const bound = [worst(rates, got.body.length, sentMax, inRate), ...(counted ? [worstCounted(rates, count, sentMax, inRate)] : [])].reduce((a, b) => (a < b ? a : b));
        assert.ok(cost <= bound, `turn ${turn}: cost ${cost} µ$ exceeds its worst case ${bound} µ$`);
        if (!marked) {
          // Without markers the upstream cannot write (or read) the cache: every prompt token is plain input.
          assert.deepEqual(usage, { input_tokens: count, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }, `turn ${turn}: an uncached request's usage`);
          assert.deepEqual(got.json, { ...(unmarked(json) as object), max_tokens: sentMax }, 'only the markers removed (and max_tokens when lowered)');
          uncached.push({ turn, maxTokens: sentMax });
        } else if (sentMax !== maxTokens) lowered.push({ sent: body, got: got.body, stop: /"stop_reason":"(\w+)"/.exec(text)?.[1] ?? '', asked: outputs[turn % outputs.length]! });
      }
      assert.ok(refusal, 'the developer reached the cap');
      assert.deepEqual(mock.overCount, [], 'the mock never reported more prompt tokens than its count_tokens said');
      assert.ok(cacheReads > 0, 'the conversation was read from the prompt cache');

      // The books: recorded spend equals the usage priced independently, and never passes the cap.
      await waitFor('every charge is stored', async () => {
        const { rows } = await tdb.db.query<{ spent_micros: string; reserved_micros: string }>('SELECT spent_micros, reserved_micros FROM spend_counters WHERE principal = $1', [dev]);
        return rows.length > 0 && rows.every((c) => BigInt(c.spent_micros) === spentOracle);
      });
      const { rows: ledger } = await tdb.db.query<{ s: string }>('SELECT sum(cost_micros)::text AS s FROM spend_ledger WHERE principal = $1', [dev]);
      const spent = BigInt(ledger[0]!.s);
      assert.equal(spent, spentOracle, 'ledger = usage × list price');
      assert.ok(spent <= CAP_MICROS, `recorded spend ${spent} µ$ passes the $3 cap`);

      const left = CAP_MICROS - spent;
      // The least the refused request could be proven to cost: at the floor, its prompt counted if
      // it was (not when not even an empty prompt could fit), without markers when they may be dropped.
      const least = dropping
        ? refusal.counted
          ? worstCounted(rates, refusal.count, MIN_OUTPUT, IN)
          : worst(rates, refusal.plainBytes, MIN_OUTPUT, IN)
        : refusal.counted
          ? worstCounted(rates, refusal.count, MIN_OUTPUT)
          : worst(rates, refusal.bytes, MIN_OUTPUT);
      const usd = (m: bigint) => `$${(Number(m) / 1e6).toFixed(Number(m) < 100_000 ? 4 : 2)}`;
      const fraction = Number(spent) / Number(CAP_MICROS);
      console.log(
        `      ${model}, ${start} cache, ${reservation}, count_tokens_near_cap ${counting}, drop_cache_control_near_cap ${dropping}: spent ${usd(spent)} of $3.00 (${(fraction * 100).toFixed(1)}%) before the first 429; ${lowered.length} request(s) lowered with caching, ${uncached.length} without cache_control; refused with ${usd(left)} left (${left} µ$), ${usd(least)} needed (${least} µ$) for a ${refusal.bytes}-byte, ${refusal.count}-token request`,
      );

      // Lowered requests that kept caching: only the max_tokens value differs from what the client sent; the answer stops at max_tokens.
      assert.ok(lowered.length + uncached.length >= 1, 'near the cap, requests were forwarded with a lowered max_tokens');
      for (const l of lowered) {
        const m = (JSON.parse(l.got.toString('utf8')) as { max_tokens: number }).max_tokens;
        assert.ok(m >= MIN_OUTPUT && m < maxTokens);
        assert.equal(l.got.toString('utf8'), l.sent.replace(`"max_tokens":${maxTokens}`, `"max_tokens":${m}`), 'every other byte forwarded unchanged');
        assert.equal(l.stop, l.asked > m ? 'max_tokens' : 'end_turn', 'a lowered answer that runs long ends with stop_reason max_tokens');
      }
      for (const u of uncached) assert.ok(u.maxTokens >= MIN_OUTPUT && u.maxTokens <= maxTokens);
      if (!dropping) assert.deepEqual(uncached, [], 'drop_cache_control_near_cap: false: every request kept its cache_control');
      // From a cold start Opus's last turn fits only at the input rate (below), so it goes out uncached.
      else if (model === 'opus' && start === 'cold') assert.ok(uncached.length >= 1, 'near the cap, a request went out without cache_control');

      // The 429: Anthropic's envelope, what is left, what the request needs, when it resets; headers kept.
      assert.equal(refusal.status, 429);
      const err = JSON.parse(refusal.text) as { type: string; error: { type: string; message: string } };
      assert.equal(err.type, 'error');
      assert.equal(err.error.type, 'billing_error');
      assert.ok(left < least, `refused with ${left} µ$ left although ${least} µ$ covers the request at ${MIN_OUTPUT} output tokens`);
      assert.ok(err.error.message.includes(`${usd(left)} left`), err.error.message);
      assert.ok(err.error.message.includes(`at least ${usd(least)} with max_tokens lowered to ${MIN_OUTPUT}${dropping ? ' and prompt caching off' : ''})`), err.error.message);
      assert.match(err.error.message, /resets /);
      assert.match(err.error.message, /ask #eng-budget to raise it/);
      assert.equal(refusal.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
      assert.ok(Number(refusal.headers.get('retry-after')) > 0);

      // What is out of reach is at most the proven worst case of one minimal request.
      assert.ok(spent >= CAP_MICROS - least, 'refused only when even the floor did not fit');
      // Issue 16 asks for 95%. Without dropping cache_control, the least an Opus request of this size
      // can be proven to cost, its ~25 000 prompt tokens at the $6.25 cache-write rate (a cache miss
      // cannot be ruled out) and 1024 output tokens, is about $0.19, 6% of $3: from a cold start the
      // session stops at 93.9% with $0.18 left. Dropping it, the last turn goes out uncached ($5 per
      // million, $0.155 at the floor) and the cap is spent to 99.9%. From a warm start the previous
      // turn's short answer leaves $0.154, just under the $0.155 the next needs even uncached:
      // 94.9%, with or without dropping (docs/spend.md, "How close to the cap").
      // The byte bound alone (count_tokens_near_cap: false) stops near 86-91%.
      const target = !counting ? 0.85 : model === 'sonnet' || (dropping && start === 'cold') ? 0.95 : dropping ? 0.945 : 0.93;
      assert.ok(fraction >= target, `spent only ${(fraction * 100).toFixed(1)}% of the cap before the first 429`);
    });
  });
}

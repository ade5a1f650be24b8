/**
 * The real Claude Code CLI against a capped user: it must show the gateway's 429 message
 * (which period, when it resets, what to do, and near a cap what is left and what it needed).
 */
import assert from 'node:assert/strict';
import { mockTokenCount, startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { runClaude } from '../support/claude-cli';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';

describe('Claude Code CLI against a capped user', function () {
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
    });
    gw = await startTestGateway({ config, db: tdb.db });
    const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: 'capped-dev' }, amount: '0', period: 'daily' }),
    });
    assert.equal(r.status, 200);
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await mock?.close();
  });

  it('prints the gateway 429 message and never reaches the upstream', async function () {
    this.timeout(120_000);
    const run = await runClaude({ baseUrl: gw.url, token: gw.mint({ sub: 'capped-dev' }), prompt: 'say hi' });
    const out = run.stdout + run.stderr;
    assert.match(out, /spend limit reached \(daily; resets \d{4}-\d{2}-\d{2} 00:00 UTC\) ask #eng-budget to raise it/, out);
    // What is left and what the request needed (issue 16): the CLI prints the whole message.
    assert.match(out, /\(\$0\.0000 left; this request needs up to \$\d+\.\d+ at max_tokens \d+/, out);
    assert.notEqual(run.code, 0);
    assert.equal(mock.requests.filter((q) => q.url.startsWith('/v1/messages') && !q.url.includes('count_tokens')).length, 0);
  });

  it('near the cap: a first question goes out with max_tokens lowered, the next one is refused saying what is left and what it needed', async function () {
    this.timeout(180_000);
    const r = await fetch(`${gw.url}/v1/organizations/spend_limits`, {
      method: 'POST',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: { type: 'user', user_id: 'near-dev' }, amount: '25', period: 'daily' }),
    });
    assert.equal(r.status, 200);
    const token = gw.mint({ sub: 'near-dev' });
    const isMessages = (q: { url: string }) => q.url.startsWith('/v1/messages') && !q.url.includes('count_tokens');
    // $0.25 on Opus: Claude Code's ~87 KB prompt's byte bound ($0.55) does not fit; its counted
    // bound (~22 000 tokens at the cache-write rate, ~$0.14) does, with max_tokens lowered from
    // 64000. The answer writes 20 000 prompt tokens to the cache and 2000 of output: $0.175.
    mock.queue = [{ reply: { inputTokens: 3, cacheCreationInputTokens: 20_000, outputTokens: 2000, text: 'near-cap answer' }, honourMaxTokens: true }];
    const first = await runClaude({ baseUrl: gw.url, token, prompt: 'say hi', model: 'opus' });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /near-cap answer/);
    const sent = mock.requests.filter(isMessages).at(-1)!.json as { max_tokens: number; model: string };
    assert.ok(sent.max_tokens >= 1024 && sent.max_tokens < 64000, `forwarded max_tokens ${sent.max_tokens}`);
    assert.ok(mock.requests.some((q) => q.url.includes('count_tokens')), 'the prompt was counted near the cap');
    assert.deepEqual(mock.overCount, []);

    const forwarded = mock.requests.filter(isMessages).length;
    const second = await runClaude({ baseUrl: gw.url, token, prompt: 'say hi again', model: 'opus' });
    const out = second.stdout + second.stderr;
    assert.notEqual(second.code, 0);
    assert.equal(mock.requests.filter(isMessages).length, forwarded, 'the refused question never reached the upstream');
    // What is left: $0.25 minus the first answer (3 in at $5, 20 000 cache writes at $6.25, 2000 out at $25 per million).
    const spent = (3 * 5 + 20_000 * 6.25 + 2000 * 25) / 1e6;
    const left = (0.25 - spent).toFixed(4);
    // What the second question needs at least: its counted prompt (+2% +100) and 1024 output tokens
    // at $25, sent without cache_control so its prompt is priced at the $5 input rate, not $6.25.
    const counted = mock.requests.filter((q) => q.url.includes('count_tokens')).at(-1)!.json!;
    const c = mockTokenCount(counted);
    const least = (((c + Math.ceil(c / 50) + 100) * 5 + 1024 * 25) / 1e6).toFixed(2);
    assert.match(out, /spend limit reached \(daily; resets \d{4}-\d{2}-\d{2} 00:00 UTC\) ask #eng-budget to raise it/, out);
    assert.ok(out.includes(`($${left} left; this request needs up to $`), out);
    assert.ok(out.includes(`at max_tokens 64000 and at least $${least} with max_tokens lowered to 1024 and prompt caching off)`), out);
    console.log(`      the CLI printed: ${/spend limit reached.*/.exec(out)?.[0]}`);
  });
});

/**
 * The modelPricing the gateway pushes is what the real Claude Code CLI understands: with a pricing
 * override in gateway.yaml, the cost Claude Code reports for a request under the served managed
 * settings (`--output-format json`, `total_cost_usd`) is the gateway's price for the usage the
 * upstream reported, not list price.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { runClaude } from '../support/claude-cli';

describe('modelPricing pushed to the real Claude Code CLI', function () {
  this.timeout(180_000);
  let mock: MockAnthropic;
  let tdb: TestDatabase;
  let gw: TestGateway;

  before(async function () {
    this.timeout(120_000);
    mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    tdb = await createTestDatabase('pglite');
    gw = await startTestGateway({
      config: testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        managed: { policies: [{ name: 'everyone', match: {}, cli: { availableModels: ['claude-sonnet-4-6'] } }] },
        // Ten times Sonnet's list price, then halved: $15 / $75 per million tokens.
        pricing: { multiplier: 0.5, overrides: [{ model: 'claude-sonnet-4-6', input: 30, output: 150 }] },
      }),
      db: tdb.db,
    });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await mock?.close();
  });

  it('Claude Code prices the reply at the gateway rates', async () => {
    mock.defaults = { reply: { inputTokens: 1000, outputTokens: 200 } };
    const settings = (await (await fetch(`${gw.url}/managed/settings`, { headers: { authorization: `Bearer ${gw.mint()}` } })).json()) as { settings: Record<string, unknown> };
    assert.deepEqual(settings.settings.modelPricing, { multiplier: 0.5, overrides: { 'claude-sonnet-4-6': { input: 30, output: 150, cacheRead: 3, cacheWrite: 37.5 } } });
    // Headless gateway mode (a bearer in the environment) does not fetch /managed/settings, and
    // the --managed-settings flag does not apply modelPricing (tried: list price); the document the
    // gateway serves goes where machine-level managed settings live instead.
    const dir = mkdtempSync(join(tmpdir(), 'managed-'));
    writeFileSync(join(dir, 'managed-settings.json'), JSON.stringify(settings.settings));
    // Machine-level managed settings come from /etc/claude-code, given to this process alone.
    const run = await runClaude({ baseUrl: gw.url, token: gw.mint(), prompt: 'say hi', extraArgs: ['--output-format', 'json'], managedSettingsDir: dir });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const out = JSON.parse(run.stdout) as { total_cost_usd: number; usage?: unknown };
    const messages = mock.requests.filter((r) => r.url.startsWith('/v1/messages') && !r.url.includes('count_tokens')).length;
    // Each request: (1000 × $30 + 200 × $150) / 1e6 × 0.5 = $0.03; list price would be $0.006.
    assert.ok(messages >= 1);
    assert.ok(Math.abs(out.total_cost_usd - 0.03 * messages) < 1e-9, `total_cost_usd ${out.total_cost_usd} for ${messages} request(s); ${JSON.stringify(out.usage)}`);
  });
});

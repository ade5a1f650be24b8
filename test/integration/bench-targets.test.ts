/**
 * The benchmark's comparison targets are what they claim to be, so `npm run bench` keeps
 * measuring like against like: Anthropic's gateway (`claude gateway`, the native binary from the
 * npm devDependency) boots from the config the bench writes, accepts the session the bench mints,
 * enforces the same allow-list and meters spend through the same admin API; the do-nothing proxy
 * relays a stream untouched.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { createPostgresDatabase } from '../support/db';
import { startOfficialGateway, type OfficialGateway } from '../../bench/official-gateway';

const ADMIN_KEY = 'bench-admin-write-key-0123456789abcdef';
const USER = { sub: 'bench-user', email: 'bench@example.com', groups: ['engineering'] };

describe('benchmark targets', function () {
  this.timeout(90_000);
  let mock: MockAnthropic;
  before(async () => {
    mock = await startMockAnthropic({ apiKey: 'sk-bench-upstream' });
  });
  after(async () => {
    await mock?.close();
  });

  describe("Anthropic's gateway, configured as the bench configures it", () => {
    let db: { url: string; drop(): Promise<void> };
    let gw: OfficialGateway;
    before(async function () {
      this.timeout(60_000);
      db = await createPostgresDatabase();
      gw = await startOfficialGateway({
        kind: 'official',
        mockUrl: mock.url,
        pgUrl: db.url,
        jwtSecret: 'bench-secret-0123456789abcdef0123456789abcdef',
        adminKey: ADMIN_KEY,
        user: USER,
        availableModels: ['claude-sonnet-4-6'],
      });
    });
    after(async () => {
      await gw?.stop();
      await db?.drop();
    });

    const client = () => new Anthropic({ baseURL: gw.url, authToken: gw.token, apiKey: null, maxRetries: 0 });
    const setCap = (amount: string) =>
      fetch(`${gw.url}/v1/organizations/spend_limits`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: { type: 'user', user_id: USER.sub }, amount, period: 'monthly' }),
      });

    it('accepts the minted session and proxies to the mock with its own upstream key', async () => {
      const before = mock.requests.length;
      const msg = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(msg.type, 'message');
      assert.equal(mock.requests.length, before + 1);
      assert.equal(mock.requests.at(-1)!.headers['x-api-key'], 'sk-bench-upstream');
    });

    it('enforces the same allow-list as the governed Tollgate target', async () => {
      await assert.rejects(
        client().messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
        (err: InstanceType<typeof Anthropic.APIError>) => err.status !== undefined && err.status >= 400 && err.status < 500,
      );
    });

    it('meters spend: the admin API the bench sets its cap through is live', async () => {
      assert.equal((await setCap('100000000')).status, 200);
      const ok = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(ok.type, 'message');
      assert.equal((await setCap('0')).status, 200);
      await assert.rejects(
        client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
        (err: InstanceType<typeof Anthropic.APIError>) => err.status === 429,
      );
    });

    it('refuses a token signed with another secret', async () => {
      const r = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.token.slice(0, -4)}AAAA`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(r.status, 401);
    });
  });

  it('the do-nothing proxy relays a stream event for event', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/null-proxy.ts', '--upstream', mock.url], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((res) => createInterface({ input: child.stdout! }).once('line', res));
      const url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
      // The key the mock expects, passed through as a client would send it to api.anthropic.com.
      const sdk = new Anthropic({ baseURL: url, apiKey: 'sk-bench-upstream', defaultHeaders: { 'x-api-key': 'sk-bench-upstream' }, maxRetries: 0 });
      const stream = sdk.messages.stream({
        model: 'claude-sonnet-4-6',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      });
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      assert.equal(types[0], 'message_start');
      assert.equal(types.at(-1), 'message_stop');
      assert.equal((await stream.finalMessage()).content.length > 0, true);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

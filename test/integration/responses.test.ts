/**
 * The OpenAI Responses API through the gateway (Codex's protocol), on real PostgreSQL and on
 * PGlite, with the official `openai` SDK as the client and loopback OpenAI / Azure OpenAI mocks
 * speaking the exact wire format: pass-through byte for byte, the upstream key only, the policy's
 * `codex.availableModels`, audit rows with tokens and cost to the micro-dollar, a cap answered
 * the way Codex stops at once, failover to Azure with its deployment name, /v1/models for every
 * client, /managed/codex with ETag/304 and 426 for a WebSocket upgrade.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import OpenAI from 'openai';
import { codexRequestHeaders, sdkStreamTurn, startMockOpenAI, type MockOpenAI } from '../support/mock-openai';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { setSpendLimit } from '../support/spend-limits';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';
const OPENAI_KEY = 'sk-openai-upstream-key';
const AZURE_KEY = 'azure-upstream-key-0123';

// Oracle: list prices of gpt-5-codex in µ$ per token (1.25 $/MTok input, 0.125 cached, 10 output),
// and the mock's usage: 1200 input of which 1024 cached, 300 output of which 256 reasoning.
const COST_MICROS = (1200 - 1024) * 1.25 + 1024 * 0.125 + 300 * 10; // 3348

for (const kind of storeKinds()) {
  describe(`OpenAI Responses API (${kind})`, function () {
    let openai: MockOpenAI;
    let azure: MockOpenAI;
    let tdb: TestDatabase;
    let gw: TestGateway;

    before(async function () {
      this.timeout(120_000);
      openai = await startMockOpenAI({ apiKey: OPENAI_KEY });
      azure = await startMockOpenAI({ apiKey: AZURE_KEY, azure: true });
      tdb = await createTestDatabase(kind);
      const config = testConfig({
        upstreams: [
          { name: 'openai', provider: 'openai', base_url: openai.baseUrl, auth: { api_key: OPENAI_KEY }, headers: { 'x-team': 'platform' } },
          {
            name: 'azure',
            provider: 'azure_openai',
            endpoint: azure.url,
            api_version: '2025-04-01-preview',
            deployments: { 'gpt-5-codex': 'codex-prod' },
            auth: { api_key: AZURE_KEY },
          },
        ],
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
        // For models the price file gives no output ceiling (gpt-6-preview below).
        enforcement: { default_max_output_tokens: 64_000 },
        pricing: { overrides: [{ model: 'gpt-6-preview', input: 2, output: 10, cache_read: 0.2 }] },
        managed: {
          policies: [
            {
              name: 'contractors',
              match: { groups: ['contractors'] },
              codex: { availableModels: ['gpt-5-mini'], requirements: { allowed_sandbox_modes: ['read-only'] } },
            },
            {
              name: 'everyone',
              match: {},
              codex: {
                availableModels: ['gpt-5-codex', 'gpt-5.1*', 'gpt-6-preview'],
                config: { model: 'gpt-5-codex', approval_policy: 'on-request' },
                requirements: { allowed_approval_policies: ['on-request', 'never'], mcp_servers: { docs: { identity: { command: 'docs-mcp' } } } },
              },
            },
          ],
        },
      });
      gw = await startTestGateway({ config, db: tdb.db });
    });
    after(async () => {
      await gw?.close();
      await tdb?.drop();
      await openai?.close();
      await azure?.close();
    });
    beforeEach(async () => {
      openai.queue = [];
      openai.defaults = {};
      openai.requests.length = 0;
      azure.requests.length = 0;
      await tdb.db.query('DELETE FROM spend_limits');
    });

    const sdk = (token: string) => new OpenAI({ apiKey: token, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const codexHeaders = codexRequestHeaders;
    const auditRow = async (requestId: string) =>
      (await tdb.db.query<Record<string, unknown>>(`SELECT * FROM audit_log WHERE event = 'inference' AND request_id = $1`, [requestId])).rows[0];

    it('streams a Codex turn byte for byte with only the upstream key, and audits tokens and cost to the micro-dollar', async () => {
      const token = gw.mint({ sub: 'codex-user', groups: ['engineering'] });
      const body = JSON.stringify({
        model: 'gpt-5-codex',
        input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
        stream: true,
        store: false,
        include: ['reasoning.encrypted_content'],
        prompt_cache_key: 'sess-0001',
        future_field: { kept: true },
      });
      const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: codexHeaders(token), body });
      assert.equal(res.status, 200);
      const requestId = res.headers.get('x-request-id')!;
      assert.match(requestId, /\S/);
      const text = Buffer.from(await res.arrayBuffer());
      assert.deepEqual(text, openai.sentBodies[0], 'the SSE stream arrives unchanged');
      assert.equal(res.headers.get('x-ratelimit-remaining-requests'), null, "the upstream account's rate limits stay private");
      const seen = openai.requests[0]!;
      assert.deepEqual(seen.body, Buffer.from(body), 'the body goes upstream unchanged');
      assert.equal(seen.url, '/v1/responses');
      assert.equal(seen.headers.authorization, `Bearer ${OPENAI_KEY}`);
      assert.equal(seen.headers['accept-encoding'], 'identity');
      assert.equal(seen.headers['x-team'], 'platform');
      assert.equal(seen.headers['session-id'], 'sess-0001');
      assert.ok(!JSON.stringify(seen.headers).includes(token), "the user's bearer never reaches the upstream");
      const row = await auditRow(requestId);
      assert.ok(row, 'an audit row for the request');
      assert.equal(row.sub, 'codex-user');
      assert.equal(row.surface, 'codex_exec');
      assert.equal(row.session_id, 'sess-0001');
      assert.equal(row.model, 'gpt-5-codex');
      assert.equal(row.upstream, 'openai');
      assert.equal(Number(row.input_tokens), 1200 - 1024);
      assert.equal(Number(row.cache_read_tokens), 1024);
      assert.equal(Number(row.output_tokens), 300);
      assert.equal(Number(row.cost_micros), COST_MICROS);
      const detail = row.detail as Record<string, unknown>;
      assert.equal(detail.reasoning_tokens, 256);
      assert.equal(detail.thread_id, 'thread-0001');
      assert.equal(detail.request_kind, 'turn');
      assert.ok(!JSON.stringify(row).includes('"hi"'), 'no prompt text in the audit row');
    });

    it('serves the official openai SDK: responses.stream(), responses.create() and models.list()', async () => {
      const client = sdk(gw.mint());
      const { deltas, final } = await sdkStreamTurn(client, 'gpt-5-codex', 'hello');
      assert.equal(deltas, 'Hello from the mock OpenAI upstream.');
      assert.equal(final.usage?.input_tokens_details.cached_tokens, 1024);
      const created = await client.responses.create({ model: 'gpt-5.1-codex', input: 'hello' });
      assert.equal(created.output_text, 'Hello from the mock OpenAI upstream.');
      assert.equal(created.usage?.output_tokens_details.reasoning_tokens, 256);
      const ids = [];
      for await (const m of client.models.list()) ids.push(m.id);
      assert.ok(ids.includes('gpt-5-codex'), `models.list() names the allowed OpenAI model: ${ids.join(', ')}`);
      assert.ok(!ids.includes('gpt-5-mini'), 'and not a model outside the policy');
    });

    it("answers Codex's GET /v1/models with models: [] beside the OpenAI and Anthropic list fields", async () => {
      const res = await fetch(`${gw.url}/v1/models?client_version=0.171.0`, { headers: { authorization: `Bearer ${gw.mint()}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(body.models, []);
      assert.equal(body.object, 'list');
      assert.ok(Array.isArray(body.data) && 'has_more' in body);
      const claude = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.mint()}`, 'anthropic-version': '2023-06-01' } });
      const list = ((await claude.json()) as { data: { id: string }[] }).data;
      assert.ok(!list.some((m) => m.id.startsWith('gpt-')), 'Claude Code never sees OpenAI models');
    });

    it('refuses a model outside codex.availableModels with a 400 naming it, and nothing reaches the upstream', async () => {
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: codexHeaders(gw.mint({ groups: ['contractors'] })),
        body: JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: true }),
      });
      assert.equal(res.status, 400);
      const err = ((await res.json()) as { error: { type: string; code: string; message: string } }).error;
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.code, 'model_not_allowed');
      assert.match(err.message, /model gpt-5-codex is not in your policy's codex\.availableModels allowlist; allowed: gpt-5-mini\./);
      assert.equal(openai.requests.length + azure.requests.length, 0);
      const row = await auditRow(res.headers.get('x-request-id')!);
      assert.equal(row?.outcome, 'denied_policy');
    });

    it('answers a bad token with 401 invalid_api_key (Codex re-runs its auth command)', async () => {
      const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { ...codexHeaders('not-a-token') }, body: '{}' });
      assert.equal(res.status, 401);
      const err = ((await res.json()) as { error: Record<string, unknown> }).error;
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.code, 'invalid_api_key');
      assert.match(String(err.message), /tollgate login/);
    });

    it('stops a capped user with 429 insufficient_quota saying what is left and when it resets', async () => {
      await setSpendLimit({ via: gw.url, adminKey: WRITE_KEY, userId: 'capped-user', amount: '50' });
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: codexHeaders(gw.mint({ sub: 'capped-user' })),
        body: JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: true }),
      });
      assert.equal(res.status, 429);
      const err = ((await res.json()) as { error: { type: string; code: string; message: string } }).error;
      assert.equal(err.code, 'insufficient_quota');
      assert.equal(err.type, 'insufficient_quota');
      assert.ok(Number(res.headers.get('retry-after')) > 0, 'retry-after says when the cap resets');
      assert.ok(res.headers.get('anthropic-ratelimit-unified-reset'), 'the usage headers of a capped response');
      assert.match(err.message, /^spend limit reached \(daily; resets .+\).*\$0\.50 left; this request needs up to \$1\.28\d* at max_output_tokens 128000/);
      assert.equal(openai.requests.length, 0);
      // A model without a known output ceiling reserves enforcement.default_max_output_tokens.
      const other = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: codexHeaders(gw.mint({ sub: 'capped-user' })),
        body: JSON.stringify({ model: 'gpt-6-preview', input: 'hi', stream: true }),
      });
      assert.equal(other.status, 429);
      assert.match(((await other.json()) as { error: { message: string } }).error.message, /this request needs up to \$0\.64\d* at max_output_tokens 64000/);
    });

    it('fails over to Azure OpenAI under its deployment name, with its api-key and api-version', async () => {
      openai.queue = [{ status: 500 }];
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: codexHeaders(gw.mint()),
        body: JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: false, store: false }),
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { status: string }).status, 'completed');
      const seen = azure.requests[0]!;
      assert.equal(seen.url, '/openai/responses?api-version=2025-04-01-preview');
      assert.equal(seen.headers['api-key'], AZURE_KEY);
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.body.toString(), JSON.stringify({ model: 'codex-prod', input: 'hi', stream: false, store: false }));
      const row = await auditRow(res.headers.get('x-request-id')!);
      assert.equal(row?.upstream, 'azure');
      assert.equal(Number(row?.cost_micros), COST_MICROS);
    });

    it('serves /managed/codex with ETag and 304, the catch-all merged under the group policy', async () => {
      const token = gw.mint({ groups: ['contractors'] });
      const res = await fetch(`${gw.url}/managed/codex`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(body.availableModels, ['gpt-5-mini']);
      assert.deepEqual(body.config, { model: 'gpt-5-codex', approval_policy: 'on-request' });
      assert.deepEqual(body.requirements, { allowed_approval_policies: ['on-request', 'never'], mcp_servers: { docs: { identity: { command: 'docs-mcp' } } }, allowed_sandbox_modes: ['read-only'] });
      const etag = res.headers.get('etag')!;
      const again = await fetch(`${gw.url}/managed/codex`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': etag } });
      assert.equal(again.status, 304);
    });

    it('answers a WebSocket upgrade on /v1/responses with 426', async () => {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${gw.url}/v1/responses`, {
          headers: { authorization: `Bearer ${gw.mint()}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('upgrade', () => reject(new Error('the gateway accepted a WebSocket upgrade')));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 426);
      assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'websocket_not_supported');
    });

    it('ends a Responses stream cut by the upstream with an error event in the OpenAI shape, never silence', async () => {
      openai.queue = [{ cutAfterEvents: 5 }];
      const res = await fetch(`${gw.url}/v1/responses`, {
        method: 'POST',
        headers: codexHeaders(gw.mint()),
        body: JSON.stringify({ model: 'gpt-5-codex', input: 'hi', stream: true }),
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /event: error\ndata: \{"type":"error","code":"all_upstreams_failed"/);
      const row = await auditRow(res.headers.get('x-request-id')!);
      assert.equal(row?.outcome, 'upstream_cut');
    });
  });
}

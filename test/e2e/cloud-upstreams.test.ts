/**
 * The bundled gateway as operators run it, with a Bedrock-only and a Vertex-only configuration,
 * driven by the real Claude Code CLI (`claude -p`). Bedrock: SigV4 with keys from gateway.yaml,
 * verified by the loopback Bedrock. Vertex: real google-auth-library with a service-account file;
 * its JWT-bearer grant reaches the mock token endpoint through a local HTTPS proxy with a test CA
 * (see test/support/google-token-proxy.ts).
 */
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { DEFAULT_REPLY } from '../support/mock-anthropic';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock';
import { createTestServiceAccount, startMockVertex, type MockVertex } from '../support/mock-vertex';
import { startGoogleTokenProxy, type GoogleTokenProxy } from '../support/google-token-proxy';
import { startGatewayProcess, type GatewayProcess } from '../support/process';
import { TEST_JWT_SECRET } from '../support/gateway';
import { runClaude } from '../support/claude-cli';
import { bedrockConfig, vertexConfig } from '../support/cloud-fixtures';

const mint = (url: string) => new SessionTokens([TEST_JWT_SECRET], url, 3600).mint({ sub: 'u-cloud', email: 'cloud@example.com' }).token;

describe('Claude Code CLI through cloud-only gateways (bundled server)', function () {
  let pgdb: { url: string; drop(): Promise<void> };
  before(async () => {
    pgdb = await createPostgresDatabase();
  });
  after(async () => {
    await pgdb?.drop();
  });

  describe('Bedrock only', () => {
    let mock: MockBedrock;
    let gw: GatewayProcess;
    before(async () => {
      mock = await startMockBedrock();
      gw = await startGatewayProcess({
        session: { jwt_secret: TEST_JWT_SECRET },
        store: { postgres_url: pgdb.url },
        upstreams: [bedrockConfig(mock.url)],
      });
    });
    after(async () => {
      await gw?.stop('SIGKILL');
      await mock?.close();
    });

    it('completes `claude -p` over SigV4 and the event stream', async () => {
      const run = await runClaude({ baseUrl: gw.url, token: mint(gw.url), prompt: 'Say hello.', model: 'claude-haiku-4-5' });
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${gw.output()}`);
      assert.match(run.stdout, new RegExp(DEFAULT_REPLY.text.replace('.', '\\.')));
      const inv = mock.requests.filter((r) => r.action === 'invoke-with-response-stream');
      assert.ok(inv.length >= 1);
      assert.ok(inv.every((r) => r.signatureOk));
      assert.equal(inv[0]!.modelId, 'us.anthropic.claude-haiku-4-5-20251001-v1:0');
      assert.ok(Array.isArray(inv[0]!.json!.anthropic_beta), 'the CLI betas moved into the body');
    });
  });

  describe('Vertex only (google-auth-library, service-account file)', () => {
    let mock: MockVertex;
    let proxy: GoogleTokenProxy;
    let gw: GatewayProcess;
    let sa: ReturnType<typeof createTestServiceAccount>;
    before(async () => {
      sa = createTestServiceAccount();
      mock = await startMockVertex(sa);
      proxy = await startGoogleTokenProxy(mock.tokenHandler);
      gw = await startGatewayProcess(
        {
          session: { jwt_secret: TEST_JWT_SECRET },
          store: { postgres_url: pgdb.url },
          upstreams: [vertexConfig(mock.baseUrl, { service_account_json: sa.path })],
        },
        { env: proxy.env() },
      );
    });
    after(async () => {
      await gw?.stop('SIGKILL');
      await proxy?.close();
      await mock?.close();
    });

    it('completes `claude -p` with a token from the JWT-bearer grant, cached across requests', async () => {
      const run = await runClaude({ baseUrl: gw.url, token: mint(gw.url), prompt: 'Say hello.', model: 'claude-sonnet-4-6' });
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${gw.output()}`);
      assert.match(run.stdout, new RegExp(DEFAULT_REPLY.text.replace('.', '\\.')));
      const client = new Anthropic({ baseURL: gw.url, authToken: mint(gw.url), apiKey: null, maxRetries: 0 });
      await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'again' }] });
      const calls = mock.requests.filter((r) => r.method.endsWith('Predict') && r.model !== 'count-tokens');
      assert.ok(calls.length >= 2);
      assert.ok(calls.every((r) => r.authorized), 'every call carried a token the mock issued');
      assert.equal(mock.tokenGrants, 1, 'token cached by google-auth-library');
      assert.deepEqual([...new Set(proxy.connects)], ['oauth2.googleapis.com:443']);
    });

    it('uses Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS) when auth is empty', async () => {
      const adc = await startGatewayProcess(
        { session: { jwt_secret: TEST_JWT_SECRET }, store: { postgres_url: pgdb.url }, upstreams: [vertexConfig(mock.baseUrl)] },
        { env: { ...proxy.env(), GOOGLE_APPLICATION_CREDENTIALS: sa.path } },
      );
      try {
        const grants = mock.tokenGrants;
        const client = new Anthropic({ baseURL: adc.url, authToken: mint(adc.url), apiKey: null, maxRetries: 0 });
        const msg = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'adc' }] });
        assert.equal((msg.content[0] as Anthropic.TextBlock).text, DEFAULT_REPLY.text);
        assert.equal(mock.tokenGrants, grants + 1);
        assert.equal(mock.requests.at(-1)!.model, 'claude-haiku-4-5@20251001');
        assert.ok(mock.requests.at(-1)!.authorized);
      } finally {
        await adc.stop('SIGKILL');
      }
    });
  });
});

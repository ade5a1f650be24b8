/**
 * auth.entra_id for azure_openai, the parts decided without a network: which configurations boot
 * (and the sentence for the others), the token source's bound and its scrubbing of the secret,
 * and the error a token failure becomes. The real flow (@azure/identity against a loopback
 * authority, the bundled gateway) is test/e2e/azure-entra.test.ts.
 */
import assert from 'node:assert/strict';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ConfigError, resolveConfig } from '../../gateway-server/src/config/load';
import { GatewayError, renderOpenAIError } from '../../gateway-server/src/errors';
import { AZURE_OPENAI_SCOPE, EntraTokenError, entraTokenSource } from '../../gateway-server/src/routing/entra-token';
import { routeWithFailover } from '../../gateway-server/src/routing/failover';
import { UpstreamCredentialError, type Upstream, type UpstreamRequest } from '../../gateway-server/src/routing/upstream';

const SECRET = 's3cr3t-value-never-logged';

function boot(auth: Record<string, unknown>): { problems: string[]; entra?: Record<string, unknown> } {
  const raw = {
    listen: { host: '127.0.0.1', port: 8080 },
    session: { jwt_secret: 'x'.repeat(32) },
    upstreams: [{ provider: 'azure_openai', endpoint: 'https://r.openai.azure.com', deployments: { 'gpt-5-codex': 'd' }, auth }],
  };
  try {
    const cfg = resolveConfig(raw, {});
    const u = cfg.upstreams[0]!;
    return { problems: [], entra: u.provider === 'azure_openai' ? (u.auth.entra_id as Record<string, unknown>) : undefined };
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return { problems: err.problems };
  }
}

const client = { tenant_id: 't', client_id: 'c' };

describe('azure_openai auth.entra_id configuration', () => {
  it('boots with a client secret or a certificate, the authority defaulting to public Entra ID', () => {
    assert.deepEqual(boot({ entra_id: { ...client, client_secret: SECRET } }).entra, { ...client, client_secret: SECRET, authority_host: 'https://login.microsoftonline.com' });
    const cert = boot({ entra_id: { ...client, client_certificate_path: '/etc/tollgate/entra.pem', authority_host: 'https://login.microsoftonline.us' } });
    assert.deepEqual(cert.problems, []);
    assert.equal(cert.entra?.authority_host, 'https://login.microsoftonline.us');
  });

  it('refuses incomplete or ambiguous credentials with a sentence naming the key', () => {
    assert.deepEqual(boot({ entra_id: { client_id: 'c', client_secret: SECRET } }).problems, ['upstreams.0.auth.entra_id.tenant_id: is required for a client credential.']);
    assert.deepEqual(boot({ entra_id: { ...client } }).problems, ['upstreams.0.auth.entra_id: set exactly one of client_secret and client_certificate_path.']);
    assert.deepEqual(boot({ entra_id: { ...client, client_secret: SECRET, client_certificate_path: '/x.pem' } }).problems, [
      'upstreams.0.auth.entra_id: set exactly one of client_secret and client_certificate_path.',
    ]);
    assert.deepEqual(boot({ api_key: 'k', entra_id: { ...client, client_secret: SECRET } }).problems, ['upstreams.0.auth: set exactly one of auth.api_key and auth.entra_id.']);
    assert.deepEqual(boot({}).problems, ['upstreams.0.auth: set exactly one of auth.api_key and auth.entra_id.']);
    assert.deepEqual(boot({ entra_id: { ...client, client_secret: SECRET, authority_host: 'http://login.example' } }).problems, [
      'upstreams.0.auth.entra_id.authority_host: must be an https:// URL (MSAL refuses any other).',
    ]);
  });

  it('refuses a managed identity at boot, saying what to use instead', () => {
    const { problems } = boot({ entra_id: { managed_identity: true, client_id: 'c' } });
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.match(problems[0]!, /^upstreams\.0\.auth\.entra_id\.managed_identity: is not supported: .*client_secret or client_certificate_path.*auth\.api_key\.$/);
  });
});

/** A credential whose answers the test controls. */
function fakeCredential(answer: (scopes: string | string[]) => Promise<AccessToken | null>): TokenCredential & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    getToken: (scopes) => {
      calls.push(String(scopes));
      return answer(scopes);
    },
  };
}

const entraCfg = { ...client, client_secret: SECRET, authority_host: 'https://login.microsoftonline.com' };

describe('the Entra ID token source', () => {
  it('asks for the Cognitive Services scope and returns the token', async () => {
    const cred = fakeCredential(async () => ({ token: 'tok-1', expiresOnTimestamp: Date.now() + 3_600_000 }));
    assert.equal(await entraTokenSource(entraCfg, 1000, cred)(new AbortController().signal), 'tok-1');
    assert.deepEqual(cred.calls, [AZURE_OPENAI_SCOPE]);
  });

  it('gives up after its bound when the library never answers, and the late answer is dropped', async () => {
    let resolveLate!: (t: AccessToken) => void;
    const cred = fakeCredential(() => new Promise((r) => (resolveLate = r)));
    await assert.rejects(entraTokenSource(entraCfg, 20, cred)(new AbortController().signal), (err: Error) => {
      assert.ok(err instanceof EntraTokenError);
      assert.match(err.message, /issued no token within 20 ms/);
      return true;
    });
    resolveLate({ token: 'late', expiresOnTimestamp: 0 });
  });

  it('rejects at once when the client goes away', async () => {
    const ac = new AbortController();
    const pending = entraTokenSource(entraCfg, 60_000, fakeCredential(() => new Promise(() => {})))(ac.signal);
    ac.abort(new Error('client closed'));
    await assert.rejects(pending, /client closed/);
  });

  it('removes the client secret from the library message it passes on', async () => {
    const cred = fakeCredential(async () => {
      throw new Error(`invalid_client: AADSTS7000215 for secret ${SECRET} (echoed by a proxy)`);
    });
    await assert.rejects(entraTokenSource(entraCfg, 1000, cred)(new AbortController().signal), (err: Error) => {
      assert.ok(!err.message.includes(SECRET), err.message);
      assert.match(err.message, /AADSTS7000215 for secret \[redacted\]/);
      return true;
    });
  });
});

describe('a token failure as the client sees it', () => {
  const base = { operation: 'responses', search: '', headers: {}, rawBody: Buffer.from('{}'), body: {}, model: 'm', stream: true, signal: new AbortController().signal, principal: { sub: 'u' }, requestId: 'r' } as unknown as Omit<UpstreamRequest, 'upstreamModel'>;
  const failing: Upstream = {
    name: 'azure',
    provider: 'azure_openai',
    family: 'openai',
    send: async () => {
      throw new UpstreamCredentialError('azure', 'could not obtain an Entra ID token');
    },
    close: async () => {},
  };

  it('is a 502 upstream_credential_unavailable in the OpenAI shape when it was the only upstream', async () => {
    const failed: string[] = [];
    const err = await routeWithFailover([{ upstream: failing, upstreamModel: 'd' }], base, { onAttemptFailed: (_u, reason) => failed.push(reason) }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'UPSTREAM_CREDENTIAL_UNAVAILABLE');
    assert.deepEqual(failed, ['upstream azure: could not obtain an Entra ID token'], 'the breaker is told');
    const r = renderOpenAIError(err);
    assert.equal(r.status, 502);
    assert.equal(r.body.error.type, 'server_error');
    assert.equal(r.body.error.code, 'upstream_credential_unavailable');
  });
});

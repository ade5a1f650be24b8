/**
 * The gateway as an OpenID Connect relying party (openid-client 6): lazy discovery (boot never
 * waits for the IdP, and a failed discovery is retried on the next sign-in), the authorization
 * URL with PKCE + state + nonce, the code exchange with id_token validation, refresh, userinfo.
 * IdP failures are classified once here: `IdpUnavailable` (network, 5xx, timeouts) versus
 * `IdpRejected` (an OAuth error such as invalid_grant).
 */
import * as oidc from 'openid-client';
import { importPKCS8 } from 'jose';
import { createHash, X509Certificate } from 'node:crypto';
import type { Config } from '../config/load';

type OidcConfig = NonNullable<Config['oidc']>;

export class IdpUnavailable extends Error {
  constructor(cause: unknown) {
    super(`identity provider unreachable: ${(cause as Error)?.message ?? cause}`, { cause });
    this.name = 'IdpUnavailable';
  }
}

export class IdpRejected extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'IdpRejected';
  }
}

export interface IdpTokens {
  idTokenClaims?: Record<string, unknown>;
  accessToken: string;
  refreshToken?: string;
}

function classify(err: unknown): Error {
  if (err instanceof IdpUnavailable || err instanceof IdpRejected) return err;
  if (err instanceof oidc.ResponseBodyError) {
    if (err.status >= 500) return new IdpUnavailable(err);
    return new IdpRejected(err.error, `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`);
  }
  if (err instanceof oidc.AuthorizationResponseError) return new IdpRejected(err.error, `${err.error}: ${err.error_description ?? ''}`);
  const code = (err as { code?: string }).code;
  // Validation failures of what the IdP sent (signature, iss, aud, nonce, exp, state) are rejections.
  if (code && /^OAUTH_(JWT|INVALID|UNEXPECTED|JWS|.*CHECK|.*MISMATCH)/.test(code) && code !== 'OAUTH_RESPONSE_IS_NOT_JSON' && code !== 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    return new IdpRejected('invalid_response', (err as Error).message);
  }
  return new IdpUnavailable(err);
}

export class OidcRelyingParty {
  private configuration?: Promise<oidc.Configuration>;

  constructor(
    private readonly cfg: OidcConfig,
    readonly redirectUri: string,
    private readonly fetchImpl: typeof fetch,
    private readonly timeoutSeconds = 10,
  ) {}

  private readonly customFetch: oidc.CustomFetch = (url, init) => this.fetchImpl(url, init as RequestInit);

  /** Discovery, cached once it succeeds. */
  async discover(): Promise<oidc.Configuration> {
    this.configuration ??= this.doDiscover().catch((err) => {
      this.configuration = undefined;
      throw classify(err);
    });
    return this.configuration;
  }

  private async doDiscover(): Promise<oidc.Configuration> {
    const c = this.cfg;
    const metadata: Partial<oidc.ClientMetadata> = {
      id_token_signed_response_alg: c.id_token_signed_response_alg,
      redirect_uris: [this.redirectUri],
      [oidc.clockTolerance]: c.clock_skew_seconds,
      ...(c.client_secret ? { client_secret: c.client_secret } : {}),
    };
    let auth: oidc.ClientAuth | undefined;
    const method = c.token_endpoint_auth_method ?? (c.client_assertion ? 'private_key_jwt' : c.client_secret ? 'client_secret_basic' : 'none');
    if (method === 'client_secret_basic') auth = oidc.ClientSecretBasic(c.client_secret);
    else if (method === 'client_secret_post') auth = oidc.ClientSecretPost(c.client_secret);
    else if (method === 'none') auth = oidc.None();
    else {
      if (!c.client_assertion) throw new Error('oidc.client_assertion.private_key_pem is required for private_key_jwt');
      const key = await importPKCS8(c.client_assertion.private_key_pem, 'RS256');
      // Entra ID identifies a certificate credential by its thumbprint in the assertion header.
      const cert = c.client_assertion.certificate_pem ? new X509Certificate(c.client_assertion.certificate_pem) : undefined;
      auth = oidc.PrivateKeyJwt(
        { key, kid: undefined },
        cert
          ? {
              [oidc.modifyAssertion]: (header) => {
                header.x5t = createHash('sha1').update(cert.raw).digest('base64url');
                header['x5t#S256'] = createHash('sha256').update(cert.raw).digest('base64url');
              },
            }
          : undefined,
      );
    }
    const server = new URL(c.discovery_url ?? c.issuer);
    const config = await oidc.discovery(server, c.client_id, metadata, auth, {
      execute: c.allow_insecure_issuer ? [oidc.allowInsecureRequests] : [],
      timeout: this.timeoutSeconds,
      [oidc.customFetch]: this.customFetch,
    });
    config[oidc.customFetch] = this.customFetch;
    config.timeout = this.timeoutSeconds;
    // OIDC lets a client skip the id_token signature when the token came straight from the token
    // endpoint over TLS, and openid-client does by default. Verify it anyway against the IdP's
    // JWKS (fetched once, then cached): the claims decide groups, hence policy and admin rights,
    // and enterprises put TLS-inspecting proxies (oidc.use_proxy) and private CAs on that path.
    // Symmetric algorithms sign with the client secret and have no JWKS to check against.
    if (config.serverMetadata().jwks_uri && !/^HS/i.test(c.id_token_signed_response_alg)) oidc.enableNonRepudiationChecks(config);
    return config;
  }

  /** The IdP's authorization-endpoint origin (for CSP form-action), once discovered. */
  async authorizationOrigin(): Promise<string | undefined> {
    const conf = await this.discover();
    const ep = conf.serverMetadata().authorization_endpoint;
    return ep ? new URL(ep).origin : undefined;
  }

  async authorizationUrl(checks: { state: string; nonce: string; codeVerifier: string }): Promise<URL> {
    const conf = await this.discover();
    const params: Record<string, string> = {
      ...this.cfg.extra_auth_params,
      // Gateway-managed parameters come last so extra_auth_params cannot override them.
      response_type: 'code',
      response_mode: 'query',
      redirect_uri: this.redirectUri,
      scope: this.cfg.scopes.join(' '),
      state: checks.state,
      nonce: checks.nonce,
    };
    if (this.cfg.use_pkce) {
      params.code_challenge = await oidc.calculatePKCECodeChallenge(checks.codeVerifier);
      params.code_challenge_method = 'S256';
    }
    return oidc.buildAuthorizationUrl(conf, params);
  }

  async exchangeCode(callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string }): Promise<IdpTokens> {
    try {
      const conf = await this.discover();
      const tokens = await oidc.authorizationCodeGrant(conf, callbackUrl, {
        pkceCodeVerifier: this.cfg.use_pkce ? checks.codeVerifier : undefined,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims() as Record<string, unknown> | undefined;
      this.checkAuthorizedParty(claims);
      return { idTokenClaims: claims, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
    } catch (err) {
      throw classify(err);
    }
  }

  async refresh(refreshToken: string): Promise<IdpTokens> {
    try {
      const conf = await this.discover();
      const tokens = await oidc.refreshTokenGrant(conf, refreshToken, this.cfg.scope_on_refresh ? { scope: this.cfg.scopes.join(' ') } : undefined);
      const claims = tokens.claims() as Record<string, unknown> | undefined;
      this.checkAuthorizedParty(claims);
      return { idTokenClaims: claims, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
    } catch (err) {
      throw classify(err);
    }
  }

  async userinfo(accessToken: string, sub: string | undefined): Promise<Record<string, unknown>> {
    try {
      const conf = await this.discover();
      return (await oidc.fetchUserInfo(conf, accessToken, sub ?? oidc.skipSubjectCheck)) as Record<string, unknown>;
    } catch (err) {
      throw classify(err);
    }
  }

  /** Best effort (RFC 7009 at the IdP): end the IdP's refresh token too when a client signs out. */
  async revokeAtIdp(refreshToken: string): Promise<void> {
    try {
      const conf = await this.discover();
      if (conf.serverMetadata().revocation_endpoint) await oidc.tokenRevocation(conf, refreshToken, { token_type_hint: 'refresh_token' });
    } catch {
      // The gateway-side revocation already ended the session; the IdP token dies with its own TTL.
    }
  }

  /** openid-client checks azp only for multi-audience tokens; the official gateway checks it always. */
  private checkAuthorizedParty(claims: Record<string, unknown> | undefined): void {
    const azp = claims?.azp;
    if (azp === undefined || azp === this.cfg.client_id) return;
    if (typeof azp === 'string' && this.cfg.additional_authorized_parties.includes(azp)) return;
    throw new IdpRejected('invalid_response', `id_token azp "${String(azp)}" is not this gateway's client_id nor in oidc.additional_authorized_parties`);
  }
}

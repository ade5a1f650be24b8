/**
 * The identity feature: SSO sign-in (RFC 8628 device grant in front of the organisation's OIDC
 * provider), sealed refresh, RFC 7009 and admin revocation kept in memory on every replica, and
 * the development IdP for `npm start`.
 */
import { idpFetch } from './idp-fetch';
import type { Feature, FeatureContext } from '../feature';
import { adminRoutes } from './admin-routes';
import { browserRoutes } from './browser-routes';
import { DeviceGrantStore } from './device-grants';
import { isLoopback, startDevIdp, type DevIdp } from './dev-idp';
import { oauthRoutes, registerFormParser } from './oauth-routes';
import { OidcRelyingParty } from './oidc-rp';
import { REFRESH_SEAL_MAX_SECONDS, RefreshSealer } from './refresh-seal';
import { Revocations } from './revocations';
import type { IdentityService } from './service';

const SWEEP_INTERVAL_MS = 60_000;

export async function createIdentityFeature(ctx: FeatureContext): Promise<Feature> {
  const { config } = ctx;
  const now = () => ctx.clock.now();
  let devIdp: DevIdp | undefined;
  if (config.dev_idp?.enabled) devIdp = await startConfiguredDevIdp(ctx);

  const revocations = new Revocations(ctx.db, now, ctx.tokens.ttl, REFRESH_SEAL_MAX_SECONDS + ctx.tokens.ttl);
  try {
    await revocations.start();
  } catch (err) {
    await devIdp?.close();
    throw err;
  }
  const svc: IdentityService = {
    ctx,
    grants: new DeviceGrantStore(ctx.db, now),
    rp: config.oidc ? new OidcRelyingParty(config.oidc, `${config.publicUrl}/oauth/callback`, idpFetch(config.oidc, ctx.fetch)) : undefined,
    sealer: new RefreshSealer(config.session.jwt_secret, now),
    revocations,
    devIdp: devIdp !== undefined,
    now,
  };
  if (!config.oidc) ctx.log.warn('no oidc block: sign-in is disabled (tokens can still be minted with the CLI)');

  const sweep = async () => {
    try {
      await svc.grants.sweep();
      await revocations.sweep();
      await revocations.reload();
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'identity sweep failed; will retry');
    }
  };
  const timer = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
  timer.unref();

  return {
    revocations,
    async routes(app, rctx) {
      registerFormParser(app);
      await oauthRoutes(app, svc);
      await browserRoutes(app, svc);
      await adminRoutes(app, svc, rctx.auth);
    },
    async close() {
      clearInterval(timer);
      await revocations.stop();
      await devIdp?.close();
    },
  };
}

/** dev_idp: the oidc block must point at a loopback issuer on dev_idp.port, and the gateway must be loopback too. */
async function startConfiguredDevIdp(ctx: FeatureContext): Promise<DevIdp> {
  const { config } = ctx;
  const o = config.oidc;
  if (!o) throw new Error('dev_idp is enabled but there is no oidc block pointing at it (see docs/identity.md)');
  const issuer = new URL(o.issuer);
  const gateway = new URL(config.publicUrl);
  if (!isLoopback(issuer.hostname) || !isLoopback(gateway.hostname) || !isLoopback(config.listen.host)) {
    throw new Error('dev_idp runs only on loopback: the gateway (listen.host, public_url) and oidc.issuer must all be loopback addresses');
  }
  const port = config.dev_idp!.port || Number(issuer.port);
  if (String(port) !== issuer.port) throw new Error(`dev_idp.port (${port}) must match the port of oidc.issuer (${o.issuer})`);
  const idp = await startDevIdp({
    port,
    host: issuer.hostname,
    clientId: o.client_id,
    clientSecret: o.client_secret ?? '',
    redirectUris: [`${config.publicUrl}/oauth/callback`, `${config.publicUrl}/console/callback`],
    log: (line) => ctx.log.warn(line),
  });
  return idp;
}

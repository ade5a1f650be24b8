/**
 * What the identity routes share: stores, the IdP client, the sealer, and the two operations
 * every path ends in (turn IdP claims into a gated identity; mint a session for it).
 */
import type { FastifyRequest } from 'fastify';
import type { FeatureContext, GatewayEvent } from '../feature';
import { applyGates, mapClaims, readClaim, SignInRejected, type IdentityClaims } from './claims';
import type { DeviceGrantStore } from './device-grants';
import type { IdpTokens, OidcRelyingParty } from './oidc-rp';
import type { RefreshSealer } from './refresh-seal';
import type { Revocations } from './revocations';

export interface IdentityService {
  ctx: FeatureContext;
  grants: DeviceGrantStore;
  rp?: OidcRelyingParty;
  sealer: RefreshSealer;
  revocations: Revocations;
  devIdp: boolean;
  now(): number;
}

export interface IssuedSession {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  email?: string;
}

/** id_token claims (authoritative), completed from userinfo when allowed or when there is no id_token. */
export async function identityFrom(svc: IdentityService, idp: IdpTokens, expectedSub?: string): Promise<IdentityClaims> {
  const cfg = svc.ctx.config.oidc!;
  let primary = idp.idTokenClaims;
  let fallback: Record<string, unknown> | undefined;
  if (!primary) primary = await svc.rp!.userinfo(idp.accessToken, expectedSub);
  else {
    const emailNames = typeof cfg.email_claim === 'string' ? [cfg.email_claim] : cfg.email_claim;
    const p = primary;
    const missing = !emailNames.some((n) => typeof readClaim(p, n) === 'string') || readClaim(p, cfg.groups_claim) === undefined;
    if (cfg.userinfo_fallback && missing) fallback = await svc.rp!.userinfo(idp.accessToken, String(primary.sub));
  }
  const id = mapClaims(cfg, primary, fallback);
  if (expectedSub !== undefined && id.sub !== expectedSub) throw new SignInRejected('subject changed at refresh', 'Sign in again.');
  applyGates(cfg, id);
  return id;
}

export async function mintSession(
  svc: IdentityService,
  id: IdentityClaims,
  s: { sid: string; authTime: number; idpRefreshToken?: string; surface?: string },
): Promise<IssuedSession> {
  const { token } = svc.ctx.tokens.mint({ sub: id.sub, email: id.email, name: id.name, groups: id.groups, sid: s.sid });
  const refresh = s.idpRefreshToken
    ? await svc.sealer.seal({ rt: s.idpRefreshToken, sid: s.sid, sub: id.sub, auth_time: s.authTime, ...(s.surface ? { surface: s.surface } : {}) })
    : undefined;
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: svc.ctx.tokens.ttl,
    ...(refresh ? { refresh_token: refresh } : {}),
    ...(id.email ? { email: id.email } : {}),
  };
}

/** Emit without ever failing the caller (audit outages are the audit feature's to report). */
export async function emit(svc: IdentityService, req: FastifyRequest | undefined, e: Omit<GatewayEvent, 'at' | 'requestId'>): Promise<void> {
  // One operator log line per identity event (rejections at warn, with their reason); never tokens or codes.
  const line = { event: e.name, outcome: e.outcome, reason: e.reason, sub: e.principal?.sub, sid: e.sessionId, surface: e.surface, actor: e.actor, requestId: req?.id };
  if (e.outcome === 'ok') svc.ctx.log.info(line, 'identity event');
  else svc.ctx.log.warn(line, 'identity event');
  try {
    await svc.ctx.emit({ at: new Date(svc.now()), ...(req ? { requestId: req.id } : {}), ...e });
  } catch (err) {
    svc.ctx.log.error({ err, event: e.name }, 'identity event not delivered');
  }
}

export const principalOf = (id: IdentityClaims) => ({ sub: id.sub, ...(id.email ? { email: id.email } : {}), groups: id.groups });

/**
 * The client-facing OAuth surface: RFC 8414 metadata, RFC 8628 device authorization, the token
 * endpoint (device grant polling and refresh) and RFC 7009 revocation. Form parameters are
 * validated with zod; unknown ones are ignored (clients add parameters without notice).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OAuthError } from '../errors';
import { DEVICE_CODE_GRANT } from '../protocol/oauth';
import { SignInRejected } from './claims';
import { DEVICE_CODE_TTL_SECONDS, POLL_INTERVAL_SECONDS } from './device-grants';
import { IdpUnavailable } from './oidc-rp';
import { emit, identityFrom, mintSession, principalOf, type IdentityService } from './service';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
/** A poll this much earlier than `interval` is still on time (timer jitter, network). */
const POLL_SLACK_MS = 1000;

const formField = z.string().max(8192).optional();
const deviceAuthForm = z.object({ surface: z.string().max(64).regex(/^[\w.-]*$/).optional().catch(undefined) }).passthrough();
const tokenForm = z.object({ grant_type: formField, device_code: formField, refresh_token: formField }).passthrough();
const revokeForm = z.object({ token: formField, token_type_hint: formField }).passthrough();

/** application/x-www-form-urlencoded → flat record (first value wins). */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) if (!(k in out)) out[k] = v;
    done(null, out);
  });
}

function form<T extends z.ZodTypeAny>(schema: T, req: FastifyRequest): z.infer<T> {
  const body = req.body && typeof req.body === 'object' ? req.body : {};
  const r = schema.safeParse(body);
  if (!r.success) throw new OAuthError('invalid_request', 400, 'malformed request parameters');
  return r.data;
}

export async function oauthRoutes(app: FastifyInstance, svc: IdentityService): Promise<void> {
  const { config } = svc.ctx;
  const base = config.publicUrl;

  app.get('/.well-known/oauth-authorization-server', async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=300').send({
      issuer: base,
      device_authorization_endpoint: `${base}/oauth/device_authorization`,
      token_endpoint: `${base}/oauth/token`,
      revocation_endpoint: `${base}/oauth/revoke`,
      grant_types_supported: [DEVICE_CODE_GRANT, 'refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      scopes_supported: ['openid', 'profile', 'email'],
      gateway_protocol_version: 1,
    }),
  );

  app.post('/oauth/device_authorization', async (req, reply) => {
    const limit = config.rate_limits.device_authorization;
    const hit = await svc.grants.hit(`rl:devauth:${req.ip}`, limit.max, limit.window_seconds);
    if (!hit.allowed) {
      await emit(svc, req, { name: 'auth.denied', outcome: 'denied', reason: 'device authorization rate limit', detail: { ip: req.ip } });
      throw new OAuthError('slow_down', 429, 'Too many sign-in attempts came from your network, which other people may share. Try again later.', {
        'retry-after': String(hit.retryAfterSeconds),
      });
    }
    const { surface } = form(deviceAuthForm, req);
    if (!svc.rp) throw new OAuthError('temporarily_unavailable', 503, 'sign-in is not configured on this gateway (no oidc block)');
    const { deviceCode, userCode } = await svc.grants.create(surface);
    await emit(svc, req, { name: 'device.authorize', outcome: 'ok', ...(surface ? { surface } : {}) });
    return reply.headers(NO_STORE).send({
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: `${base}/device`,
      verification_uri_complete: `${base}/device?user_code=${userCode}`,
      expires_in: DEVICE_CODE_TTL_SECONDS,
      interval: POLL_INTERVAL_SECONDS,
      ...(svc.devIdp ? { login_notice: 'Development sign-in: log in as alice or bob with any password.' } : {}),
    });
  });

  app.post('/oauth/token', async (req, reply) => {
    const f = form(tokenForm, req);
    if (f.grant_type === DEVICE_CODE_GRANT) {
      if (!f.device_code) throw new OAuthError('invalid_request', 400, 'device_code is required');
      const { grant, tooFast } = await svc.grants.poll(f.device_code, POLL_INTERVAL_SECONDS * 1000 - POLL_SLACK_MS);
      // Unknown, expired and already-redeemed codes all read the same (RFC 8628 §3.5).
      if (!grant) throw new OAuthError('expired_token', 400, 'the device code is unknown, expired or already used: start sign-in again');
      if (grant.status === 'denied') throw new OAuthError('access_denied', 400, grant.reason ?? 'sign-in was denied');
      if (grant.status === 'pending') {
        if (tooFast) throw new OAuthError('slow_down', 429, `poll no more than every ${POLL_INTERVAL_SECONDS} seconds`);
        throw new OAuthError('authorization_pending', 400);
      }
      const a = grant.identity!;
      const id = { sub: a.sub, email: a.email, name: a.name, groups: a.groups };
      const session = await mintSession(svc, id, { sid: a.sid, authTime: a.authTime, idpRefreshToken: undefined, surface: grant.surface });
      if (a.sealedRefresh) session.refresh_token = a.sealedRefresh;
      await emit(svc, req, { name: 'session.mint', outcome: 'ok', principal: principalOf(id), sessionId: a.sid, ...(grant.surface ? { surface: grant.surface } : {}) });
      return reply.headers(NO_STORE).send(session);
    }
    if (f.grant_type === 'refresh_token') {
      if (!f.refresh_token) throw new OAuthError('invalid_request', 400, 'refresh_token is required');
      return reply.headers(NO_STORE).send(await refresh(svc, req, f.refresh_token));
    }
    if (!f.grant_type) throw new OAuthError('invalid_request', 400, 'grant_type is required');
    throw new OAuthError('unsupported_grant_type', 400, `grant_type ${f.grant_type.slice(0, 80)} is not supported`);
  });

  app.post('/oauth/revoke', async (req, reply) => {
    const f = form(revokeForm, req);
    if (!f.token) throw new OAuthError('invalid_request', 400, 'token is required');
    let target: { sid: string; sub: string } | undefined;
    try {
      const p = svc.ctx.tokens.verify(f.token);
      if (p.sid) target = { sid: p.sid, sub: p.sub };
    } catch {
      const sealed = await svc.sealer.open(f.token);
      if (sealed) {
        target = { sid: sealed.sid, sub: sealed.sub };
        void svc.rp?.revokeAtIdp(sealed.rt);
      }
    }
    // Unknown, invalid or expired tokens: 200 all the same (RFC 7009 §2.2).
    if (target) {
      await svc.revocations.revokeSession(target.sid, target.sub);
      await emit(svc, req, { name: 'session.revoke', outcome: 'ok', principal: { sub: target.sub }, sessionId: target.sid, reason: 'revoked by client (RFC 7009)' });
    }
    return reply.headers(NO_STORE).send({});
  });
}

async function refresh(svc: IdentityService, req: FastifyRequest, token: string) {
  const sealed = await svc.sealer.open(token);
  const deny = async (reason: string, sub?: string, sid?: string): Promise<never> => {
    await emit(svc, req, { name: 'auth.denied', outcome: 'denied', reason, ...(sub ? { principal: { sub } } : {}), ...(sid ? { sessionId: sid } : {}) });
    throw new OAuthError('invalid_grant', 401, `${reason}: sign in again`);
  };
  if (!sealed) return deny('refresh token invalid or expired');
  if (svc.revocations.isSessionRevoked(sealed.sid, sealed.sub, sealed.auth_time)) return deny('session revoked', sealed.sub, sealed.sid);
  if (!svc.rp) throw new OAuthError('temporarily_unavailable', 503, 'sign-in is not configured on this gateway');
  try {
    const idp = await svc.rp.refresh(sealed.rt);
    const id = await identityFrom(svc, idp, sealed.sub);
    const session = await mintSession(svc, id, { sid: sealed.sid, authTime: sealed.auth_time, idpRefreshToken: idp.refreshToken ?? sealed.rt, surface: sealed.surface });
    await emit(svc, req, { name: 'session.refresh', outcome: 'ok', principal: principalOf(id), sessionId: sealed.sid, ...(sealed.surface ? { surface: sealed.surface } : {}) });
    return session;
  } catch (err) {
    if (err instanceof IdpUnavailable) {
      req.log.warn({ err: err.message }, 'refresh: identity provider unreachable');
      throw new OAuthError('temporarily_unavailable', 503, 'the identity provider could not be reached; keep your refresh token and retry shortly');
    }
    if (err instanceof SignInRejected) return deny(err.reason, sealed.sub, sealed.sid);
    if (err instanceof OAuthError) throw err;
    return deny(`identity provider refused the refresh (${(err as { error?: string }).error ?? 'invalid'})`, sealed.sub, sealed.sid);
  }
}

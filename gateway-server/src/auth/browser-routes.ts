/**
 * The browser leg of the device flow: /device (code confirmation), /device/deny and the IdP
 * callback. Every refusal is a page that says why and what to do, and an `auth.denied` event.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { SignInRejected } from './claims';
import { normalizeUserCode, randomToken, sha256 } from './device-grants';
import { IdpRejected, IdpUnavailable } from './oidc-rp';
import { codeForm, para, sendPage } from './pages';
import { emit, identityFrom, principalOf, type IdentityService } from './service';

const COOKIE_MAX_AGE = 300;
const codeBody = z.object({ user_code: z.string().max(64).optional() }).passthrough();
const callbackQuery = z
  .object({ state: z.string().max(512).optional(), code: z.string().max(4096).optional(), error: z.string().max(256).optional(), error_description: z.string().max(1024).optional() })
  .passthrough();

function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export async function browserRoutes(app: FastifyInstance, svc: IdentityService): Promise<void> {
  const { config } = svc.ctx;
  const origin = new URL(config.publicUrl).origin;
  const tls = origin.startsWith('https:');
  const cookieName = tls ? '__Host-gw_dev' : 'gw_dev';

  /** Form targets: this gateway, the IdP's authorization origin (the 302 after our form), and configured extras. */
  const formOrigins = async (): Promise<string[]> => {
    const extra = [...(config.oidc?.form_action_origins ?? [])];
    if (config.oidc) extra.push(new URL(config.oidc.issuer).origin);
    const idp = await svc.rp?.authorizationOrigin().catch(() => undefined);
    if (idp) extra.push(idp);
    return [...new Set(extra)];
  };
  const page = async (reply: FastifyReply, title: string, body: string, status = 200) =>
    sendPage(reply, title, body, { status, formActionOrigins: await formOrigins(), devBanner: svc.devIdp });

  const sameOrigin = (req: FastifyRequest): boolean => {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string') return site === 'same-origin';
    return req.headers.origin === origin;
  };

  /** Shared gate for POST /device and /device/deny: same origin, per-IP limit, a live pending code. */
  const preflight = async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = codeBody.safeParse(req.body ?? {});
    const typed = parsed.success ? parsed.data.user_code : undefined;
    if (!sameOrigin(req)) {
      await emit(svc, req, { name: 'auth.denied', outcome: 'denied', reason: 'cross-site POST to /device' });
      await page(reply, 'Sign in to the gateway', codeForm(undefined, 'This request came from another site and was blocked. Type the code from your terminal or editor here instead.'));
      return undefined;
    }
    const limit = config.rate_limits.device_verify;
    const hit = await svc.grants.hit(`rl:device:${req.ip}`, limit.max, limit.window_seconds);
    if (!hit.allowed) {
      await emit(svc, req, { name: 'auth.denied', outcome: 'denied', reason: 'device verification rate limit', detail: { ip: req.ip } });
      reply.header('retry-after', String(hit.retryAfterSeconds));
      await page(reply, 'Too many attempts', para(`Too many codes were entered from your network. Wait ${Math.ceil(hit.retryAfterSeconds / 60)} minute(s), then try again.`), 429);
      return undefined;
    }
    const userCode = normalizeUserCode(typed);
    const found = userCode ? await svc.grants.byUserCode(userCode) : undefined;
    if (!userCode || !found || found.grant.status !== 'pending') {
      await emit(svc, req, { name: 'auth.denied', outcome: 'denied', reason: userCode ? 'unknown or expired user code' : 'malformed user code' });
      await page(reply, 'Sign in to the gateway', codeForm(undefined, 'That code was not recognised or has expired. Check it against your terminal or editor, or start signing in again there.'), 400);
      return undefined;
    }
    return { userCode, ...found };
  };

  app.get('/device', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const userCode = normalizeUserCode(q.user_code);
    return page(reply, 'Sign in to the gateway', codeForm(userCode, q.user_code !== undefined && !userCode ? 'The code in the link is not valid; type the one from your terminal or editor.' : undefined));
  });

  app.post('/device', async (req, reply) => {
    const found = await preflight(req, reply);
    if (!found || !svc.rp) return reply;
    const state = randomToken();
    const nonce = randomToken();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const browserSecret = randomToken();
    let location: URL;
    try {
      location = await svc.rp.authorizationUrl({ state, nonce, codeVerifier });
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'sign-in: identity provider unreachable');
      await emit(svc, req, { name: 'auth.denied', outcome: 'error', reason: 'identity provider unreachable', ...(found.grant.surface ? { surface: found.grant.surface } : {}) });
      return page(reply, 'Identity provider unreachable', para('Your organisation\'s identity provider could not be reached, so nothing was changed. Wait a minute and open the sign-in link again; if it keeps happening, tell your administrator.'), 503);
    }
    await svc.grants.saveAuthState(state, { deviceKey: found.deviceKey, userCode: found.userCode, nonce, codeVerifier, browserHash: sha256(browserSecret) });
    const cookie = `${cookieName}=${browserSecret}; Path=/; Max-Age=${COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax${tls ? '; Secure' : ''}`;
    return reply.header('set-cookie', cookie).header('cache-control', 'no-store').redirect(location.href, 302);
  });

  app.post('/device/deny', async (req, reply) => {
    const found = await preflight(req, reply);
    if (!found) return reply;
    await svc.grants.settle(found.deviceKey, { status: 'denied', reason: 'sign-in was denied in the browser' });
    await emit(svc, req, { name: 'device.verify', outcome: 'denied', reason: 'denied by user', ...(found.grant.surface ? { surface: found.grant.surface } : {}) });
    return page(reply, 'Sign-in denied', para('Nobody was signed in. The application that asked will stop waiting; you can close this page.'));
  });

  app.get('/oauth/callback', async (req, reply) => {
    const clearCookie = `${cookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${tls ? '; Secure' : ''}`;
    reply.header('set-cookie', clearCookie);
    const q = callbackQuery.safeParse(req.query);
    const state = q.success ? q.data.state : undefined;
    const fail = async (reason: string, title: string, advice: string, status: number, extra: Record<string, unknown> = {}) => {
      await emit(svc, req, { name: 'auth.denied', outcome: status >= 500 ? 'error' : 'denied', reason, ...extra });
      return page(reply, title, para(advice), status);
    };
    const auth = state ? await svc.grants.takeAuthState(state) : undefined;
    if (!auth) {
      return fail('unknown or reused state', 'Sign-in link expired', 'This sign-in page has expired or was already used. Start signing in again from your terminal or editor.', 400);
    }
    const secret = readCookie(req, cookieName);
    if (!secret || sha256(secret) !== auth.browserHash) {
      return fail('browser binding mismatch', 'Sign-in could not be completed', 'This sign-in was started in a different browser (or its cookie was blocked). Open the sign-in link again in this browser and allow cookies for the gateway.', 400);
    }
    if (q.data?.error) {
      return fail(`identity provider returned ${q.data.error}`, 'Sign-in could not be completed', `Your identity provider did not sign you in (${q.data.error}). Open the sign-in link again to retry, or ask your administrator.`, 400);
    }
    let id;
    let idpRefresh: string | undefined;
    try {
      const current = new URL(req.url, config.publicUrl);
      const tokens = await svc.rp!.exchangeCode(current, { state: state!, nonce: auth.nonce, codeVerifier: auth.codeVerifier });
      idpRefresh = tokens.refreshToken;
      id = await identityFrom(svc, tokens);
    } catch (err) {
      if (err instanceof IdpUnavailable) {
        req.log.warn({ err: err.message }, 'sign-in callback: identity provider unreachable');
        return fail('identity provider unreachable', 'Identity provider unreachable', 'Your organisation\'s identity provider could not be reached, so nothing was changed. Open the sign-in link again in a minute.', 503);
      }
      if (err instanceof IdpRejected) {
        req.log.warn({ err: err.message }, 'sign-in callback: identity provider answer rejected');
        return fail('id_token validation failed', 'Sign-in could not be completed', 'The answer from your identity provider could not be verified, so you were not signed in. Open the sign-in link again; if it keeps happening, tell your administrator.', 400, { detail: { check: err.error } });
      }
      if (err instanceof SignInRejected) {
        await svc.grants.settle(auth.deviceKey, { status: 'denied', reason: err.reason });
        return fail(err.reason, 'Sign-in could not be completed', `${sentence(err.reason)}. ${err.advice}`, 403);
      }
      throw err;
    }
    const sid = randomUUID();
    const authTime = Math.floor(svc.now() / 1000);
    const sealedRefresh = idpRefresh ? await svc.sealer.seal({ rt: idpRefresh, sid, sub: id.sub, auth_time: authTime }) : undefined;
    const ok = await svc.grants.settle(auth.deviceKey, {
      status: 'approved',
      identity: { sub: id.sub, email: id.email, name: id.name, groups: id.groups, sid, authTime, ...(sealedRefresh ? { sealedRefresh } : {}) },
    });
    if (!ok) return fail('device code expired during sign-in', 'Sign-in request expired', 'The sign-in request expired before you finished. Start signing in again from your terminal or editor.', 400);
    await emit(svc, req, { name: 'device.verify', outcome: 'ok', principal: principalOf(id), sessionId: sid });
    return page(reply, 'You are signed in', para(`Signed in as ${id.email ?? id.sub}. Return to your terminal or editor; you can close this page.`));
  });
}

const sentence = (reason: string) => reason.charAt(0).toUpperCase() + reason.slice(1);

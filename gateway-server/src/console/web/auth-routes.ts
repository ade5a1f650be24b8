/**
 * Console sign-in: authorization code + PKCE (+ state, nonce) against the organisation's IdP
 * through the gateway's OpenID Connect client (auth/oidc-rp.ts, same oidc block as the device
 * flow, redirect URI `<public_url>/console/callback`), then a one-hour session cookie. Sign-out
 * clears it and revokes its session id on every replica. Each sign-in, refusal and sign-out is an audit row.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { OidcRelyingParty } from '../../auth/oidc-rp';
import { idpFetch } from '../../auth/idp-fetch';
import { applyGates, mapClaims, SignInRejected } from '../../auth/claims';
import { html } from './html';
import { sendHtml } from './layout';
import { currentSession, forbiddenPage, type ConsoleCtx } from './context';
import { FLOW_SECONDS, randomId, readCookie, roleOf, SESSION_SECONDS, type ConsoleSession, type SignInFlow } from './session';
import { checkForm } from './forms';

const callbackQuery = z.object({ state: z.string().max(512).optional(), code: z.string().max(4096).optional(), error: z.string().max(256).optional() }).passthrough();
const nextPath = (v: unknown) => (typeof v === 'string' && /^\/console(\/[\w\-/]*)?(\?[^#]*)?$/.test(v) ? v : '/console');

export async function consoleAuthRoutes(app: FastifyInstance, c: ConsoleCtx): Promise<void> {
  const { config } = c.fctx;
  const rp = config.oidc ? new OidcRelyingParty(config.oidc, `${config.publicUrl}/console/callback`, idpFetch(config.oidc, c.fctx.fetch)) : undefined;
  const now = () => c.fctx.clock.now();
  const event = (req: FastifyRequest, name: string, outcome: 'ok' | 'denied' | 'error', s?: Pick<ConsoleSession, 'sid' | 'sub' | 'email' | 'groups'>, reason?: string) =>
    c.fctx.emit({ name, at: new Date(now()), requestId: req.id, outcome, surface: 'console', ...(s ? { principal: { sub: s.sub, ...(s.email ? { email: s.email } : {}), groups: s.groups }, actor: `oidc:${s.sub}`, sessionId: s.sid } : {}), ...(reason ? { reason } : {}) });
  const failPage = (reply: Parameters<typeof sendHtml>[0], title: string, text: string, status: number) =>
    sendHtml(reply, title, html`<p>${text}</p><p><a href="/console/login">Sign in again</a></p>`, { status });

  app.get('/console/login', async (req, reply) => {
    if (!rp) return failPage(reply, 'Sign-in is not configured', 'This gateway has no oidc block, so nobody can sign in to the console. Configure your identity provider (docs/identity.md) and register <public_url>/console/callback as a redirect URI.', 503);
    const flow: SignInFlow & { next: string } = { state: randomId(), nonce: randomId(), verifier: oidc.randomPKCECodeVerifier(), exp: Math.floor(now() / 1000) + FLOW_SECONDS, next: nextPath((req.query as Record<string, unknown>)?.next) };
    let url: URL;
    try {
      url = await rp.authorizationUrl({ state: flow.state, nonce: flow.nonce, codeVerifier: flow.verifier });
    } catch {
      return failPage(reply, 'Identity provider unreachable', "Your organisation's identity provider could not be reached. Wait a minute and try again.", 503);
    }
    return reply.header('set-cookie', c.cookies.setCookie(c.cookies.flow, c.cookies.seal(flow), FLOW_SECONDS)).header('cache-control', 'no-store').redirect(url.href, 302);
  });

  app.get('/console/callback', async (req, reply) => {
    reply.header('set-cookie', c.cookies.clearCookie(c.cookies.flow));
    const flow = c.cookies.open<SignInFlow & { next: string }>(readCookie(req, c.cookies.flow), now());
    const q = callbackQuery.safeParse(req.query ?? {});
    if (!rp || !flow || !q.success || q.data.state !== flow.state) {
      await event(req, 'console.sign_in', 'denied', undefined, 'unknown, expired or mismatched state');
      return failPage(reply, 'Sign-in expired', 'This sign-in link expired, was already used or was started in another browser.', 400);
    }
    if (q.data.error) return failPage(reply, 'Sign-in refused', `Your identity provider did not sign you in (${q.data.error}).`, 400);
    let session: ConsoleSession;
    try {
      const tokens = await rp.exchangeCode(new URL(req.url, config.publicUrl), { state: flow.state, nonce: flow.nonce, codeVerifier: flow.verifier });
      const claims = tokens.idTokenClaims ?? (await rp.userinfo(tokens.accessToken, undefined));
      const id = mapClaims(config.oidc!, claims);
      applyGates(config.oidc!, id);
      const iat = Math.floor(now() / 1000);
      session = { sid: randomUUID(), iat, sub: id.sub, ...(id.email ? { email: id.email } : {}), ...(id.name ? { name: id.name } : {}), groups: id.groups, csrf: randomId(), exp: iat + SESSION_SECONDS };
    } catch (err) {
      const reason = err instanceof SignInRejected ? err.reason : (err as Error).name;
      await event(req, 'console.sign_in', 'denied', undefined, reason);
      return failPage(reply, 'Sign-in could not be completed', err instanceof SignInRejected ? err.advice : 'The answer from your identity provider could not be verified, or it was unreachable. Try again.', 400);
    }
    const role = roleOf(session.groups, config.admin);
    await event(req, 'console.sign_in', role === 'none' ? 'denied' : 'ok', session, role === 'none' ? 'not in admin_groups or viewer_groups' : `role ${role}`);
    reply.header('set-cookie', [c.cookies.clearCookie(c.cookies.flow), c.cookies.setCookie(c.cookies.session, c.cookies.seal(session), SESSION_SECONDS)]);
    if (role === 'none') return forbiddenPage(c, reply, session);
    return reply.header('cache-control', 'no-store').redirect(flow.next, 303);
  });

  app.post('/console/logout', async (req, reply) => {
    const s = currentSession(c, req);
    if (s && !(await checkForm(c, req, reply, s))) return reply;
    if (s) {
      // Revoked like a bearer, so a copy of the cookie taken before sign-out is refused too.
      await c.fctx.features.identity?.revocations?.revokeSession?.(s.sid, s.sub);
      await event(req, 'console.sign_out', 'ok', s);
    }
    reply.header('set-cookie', c.cookies.clearCookie(c.cookies.session));
    return sendHtml(reply, 'Signed out', html`<p>You are signed out of the console.</p><p><a href="/console/login">Sign in again</a></p>`);
  });
}

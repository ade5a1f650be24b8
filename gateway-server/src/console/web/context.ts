/**
 * What every console route shares: the signed-in person, checked on each request, and the
 * Admin API called in-process on their behalf. Actions go through the Admin API with a bearer
 * minted for the person (never sent to the browser), so the Admin API's own authorisation
 * decides (admin_groups act, viewer_groups are refused) and its audit rows name the person.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FeatureContext } from '../../feature';
import { html } from './html';
import { sendHtml, type PageId, type Viewer } from './layout';
import { CookieSigner, readCookie, roleOf, type ConsoleSession } from './session';

export interface ConsoleCtx {
  app: FastifyInstance;
  fctx: FeatureContext;
  cookies: CookieSigner;
  origin: string;
}

export interface Signed {
  session: ConsoleSession;
  viewer: Viewer;
}

/**
 * The cookie's session unless it expired, was signed out or its user's sessions were revoked.
 * The revocation check is the bearer's (identity feature, kept current on every replica by
 * NOTIFY), so a console cookie stops working everywhere the moment a bearer would.
 */
export function currentSession(c: ConsoleCtx, req: FastifyRequest): ConsoleSession | undefined {
  const s = c.cookies.open<ConsoleSession>(readCookie(req, c.cookies.session), c.fctx.clock.now());
  if (!s || typeof s.sid !== 'string' || typeof s.iat !== 'number') return undefined;
  const revocations = c.fctx.features.identity?.revocations;
  if (!revocations?.isSessionRevoked || revocations.isSessionRevoked(s.sid, s.sub, s.iat)) return undefined;
  return s;
}

/** The signed-in admin or viewer, or undefined after replying (sign-in redirect or the 403 page). */
export async function signedIn(c: ConsoleCtx, req: FastifyRequest, reply: FastifyReply): Promise<Signed | undefined> {
  const session = currentSession(c, req);
  if (!session) {
    const back = req.method === 'GET' ? `?next=${encodeURIComponent(req.url)}` : '';
    if (readCookie(req, c.cookies.session)) reply.header('set-cookie', c.cookies.clearCookie(c.cookies.session));
    await reply.redirect(`/console/login${back}`, 303);
    return undefined;
  }
  const role = roleOf(session.groups, c.fctx.config.admin);
  if (role === 'none') {
    await forbiddenPage(c, reply, session);
    return undefined;
  }
  return { session, viewer: { name: session.email ?? session.sub, role, csrf: session.csrf } };
}

export function forbiddenPage(c: ConsoleCtx, reply: FastifyReply, s: ConsoleSession): FastifyReply {
  const admin = c.fctx.config.admin;
  return sendHtml(
    reply,
    'Not an administrator',
    html`<p>You are signed in as <b>${s.email ?? s.sub}</b>, but the console is for members of the groups in <code>admin.admin_groups</code> (${(admin?.admin_groups ?? []).join(', ') || 'none configured'}) or <code>admin.viewer_groups</code> (${(admin?.viewer_groups ?? []).join(', ') || 'none configured'}).</p>
<p>Your identity provider lists your groups as: ${s.groups.length ? s.groups.join(', ') : 'none'}. Ask your gateway administrator to add you to one of those groups, then sign in again.</p>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${s.csrf}"><button type="submit">Sign out</button></form>`,
    { status: 403 },
  );
}

export interface AdminCall {
  status: number;
  body: unknown;
  text: string;
}

/** Call the Admin API in-process as the signed-in person. */
export async function adminApi(c: ConsoleCtx, s: ConsoleSession, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown): Promise<AdminCall> {
  const { token } = c.fctx.tokens.mint({ sub: s.sub, email: s.email, name: s.name, groups: s.groups, sid: s.sid });
  const res = await c.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
    ...(payload ? { payload: JSON.stringify(payload) } : {}),
  });
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body, text: res.body };
}

export function errorOf(call: AdminCall): string {
  const b = call.body as { error?: { message?: string } } | undefined;
  return b?.error?.message ?? `the gateway answered ${call.status}`;
}

export type PageRender = (c: ConsoleCtx, req: FastifyRequest, signed: Signed) => Promise<import('./html').SafeHtml>;
export type { PageId };

/**
 * Every console form is checked twice: the browser must say the POST came from this origin
 * (Sec-Fetch-Site, else Origin), and the form must echo the session's CSRF token. A cross-site
 * POST gets a 403 page and an audit row, and changes nothing.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html } from './html';
import { sendHtml } from './layout';
import type { ConsoleCtx } from './context';
import type { ConsoleSession } from './session';

export function formBody(req: FastifyRequest): Record<string, string> {
  const b = req.body;
  if (!b || typeof b !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function sameOrigin(c: ConsoleCtx, req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  return req.headers.origin === c.origin;
}

export async function checkForm(c: ConsoleCtx, req: FastifyRequest, reply: FastifyReply, s: ConsoleSession): Promise<boolean> {
  const given = Buffer.from(formBody(req).csrf ?? '');
  const want = Buffer.from(s.csrf);
  const tokenOk = given.length === want.length && timingSafeEqual(given, want);
  if (sameOrigin(c, req) && tokenOk) return true;
  await refuseForm(c, req, reply, s, !sameOrigin(c, req) ? 'cross-site form POST' : 'missing or wrong CSRF token');
  return false;
}

export async function refuseForm(c: ConsoleCtx, req: FastifyRequest, reply: FastifyReply, s: ConsoleSession | undefined, reason: string): Promise<FastifyReply> {
  const who = s ? { actor: `oidc:${s.sub}`, principal: { sub: s.sub, groups: s.groups } } : {};
  await c.fctx.emit({ name: 'console.denied', at: new Date(c.fctx.clock.now()), requestId: req.id, outcome: 'denied', reason, surface: 'console', ...who, detail: { path: req.url.split('?')[0] } });
  return sendHtml(reply, 'Request refused', html`<p>This form was not sent from the console page itself (${reason}), so nothing was changed. Go back to the <a href="/console">console</a> and try again there.</p>`, { status: 403 });
}

/**
 * The console's routes: pages (GET, any signed-in admin or viewer), actions (POST: same-origin
 * and CSRF-checked, carried out through the Admin API as the person, so viewers are refused
 * there and every change is an admin audit row naming them), audit export and chain check.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { html, type SafeHtml } from './html';
import { sendHtml, NAV, type PageId } from './layout';
import { adminApi, errorOf, signedIn, type ConsoleCtx, type PageRender, type Signed } from './context';
import { checkForm, formBody, refuseForm, sameOrigin } from './forms';
import { overviewPage, usersPage } from './pages-main';
import { capEffect, capsBody, capsPage, groupsPage, setupPage, upstreamsPage, type CapDraft } from './pages-more';
import { consoleAuditRoutes } from './audit-page';

const PAGES: Record<Exclude<PageId, 'audit'>, PageRender> = {
  overview: overviewPage,
  users: usersPage,
  groups: groupsPage,
  caps: capsPage,
  upstreams: upstreamsPage,
  setup: setupPage,
};

/** Dollars as typed ("12", "0.01", "$1,250.50") to the Admin API's cent string, or undefined. */
export function dollarsToCents(input: string): string | undefined {
  const s = input.trim().replace(/^\$/, '').replaceAll(',', '');
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) return undefined;
  return String(BigInt(m[1]!) * 100n + BigInt((m[2] ?? '').padEnd(2, '0') || '0'));
}

const notice = (text: string, error = false) => html`<p class="notice${error ? ' error' : ''}" role="status">${text}</p>`;

export async function consolePageRoutes(app: FastifyInstance, c: ConsoleCtx): Promise<void> {
  const show = (reply: FastifyReply, s: Signed, page: PageId, body: SafeHtml, status = 200) =>
    sendHtml(reply, NAV.find(([id]) => id === page)![1], body, { page, viewer: s.viewer, status });

  for (const [id, , path] of NAV) {
    if (id === 'audit') continue; // audit-page.ts
    app.get(path, async (req, reply) => {
      const s = await signedIn(c, req, reply);
      if (!s) return reply;
      return show(reply, s, id, await PAGES[id](c, req, s));
    });
  }

  /** An action: signed in, same origin, CSRF token; then `run` replies. */
  const action = (path: string, run: (s: Signed, body: Record<string, string>, reply: FastifyReply) => Promise<FastifyReply>) =>
    app.post(path, async (req, reply) => {
      // A cross-site POST carries no Lax cookie: refuse it as such rather than asking to sign in.
      if (!sameOrigin(c, req)) return refuseForm(c, req, reply, undefined, 'cross-site form POST');
      const s = await signedIn(c, req, reply);
      if (!s || !(await checkForm(c, req, reply, s.session))) return reply;
      return run(s, formBody(req), reply);
    });
  const outcome = async (reply: FastifyReply, s: Signed, page: PageId, ok: boolean, text: string, render: () => Promise<SafeHtml>) =>
    show(reply, s, page, html`${notice(text, !ok)}${await render()}`, ok ? 200 : 403);

  action('/console/caps', async (s, b, reply) => {
    const draft: CapDraft = { scope_type: b.scope_type ?? 'user', scope_id: (b.scope_id ?? '').trim(), period: b.period ?? 'monthly', dollars: b.dollars ?? '' };
    const cents = dollarsToCents(draft.dollars);
    const bad = !cents ? 'Type the amount in dollars, e.g. 25 or 0.01.' : draft.scope_type !== 'organization' && !draft.scope_id ? 'Name the user or group the cap applies to.' : undefined;
    if (bad || !['user', 'rbac_group', 'organization'].includes(draft.scope_type) || !['daily', 'weekly', 'monthly'].includes(draft.period)) {
      return show(reply, s, 'caps', await capsBody(c, s.session, s.viewer, draft, notice(bad ?? 'Choose a scope and a period from the lists.', true)), 400);
    }
    const effect = await capEffect(c, draft, BigInt(cents!));
    const effectText = `${effect.users} user${effect.users === 1 ? '' : 's'} covered, ${effect.over} of them already at or over this ${draft.period} cap.`;
    if (b.intent !== 'save') return show(reply, s, 'caps', await capsBody(c, s.session, s.viewer, draft, notice(`Effect of $${draft.dollars} ${draft.period}: ${effectText} Nothing saved yet.`)));
    const scope = draft.scope_type === 'user' ? { type: 'user', user_id: draft.scope_id } : draft.scope_type === 'rbac_group' ? { type: 'rbac_group', rbac_group_id: draft.scope_id } : { type: 'organization' };
    const res = await adminApi(c, s.session, 'POST', '/v1/organizations/spend_limits', { scope, amount: cents, currency: 'USD', period: draft.period });
    const ok = res.status === 200;
    return show(reply, s, 'caps', await capsBody(c, s.session, s.viewer, ok ? undefined : draft, notice(ok ? `Cap saved: $${draft.dollars} ${draft.period}. ${effectText}` : `Not saved: ${errorOf(res)}`, !ok)), ok ? 200 : res.status);
  });

  action('/console/caps/delete', async (s, b, reply) => {
    const id = (b.id ?? '').slice(0, 100);
    const res = await adminApi(c, s.session, 'DELETE', `/v1/organizations/spend_limits/${encodeURIComponent(id)}`);
    const ok = res.status === 200;
    return show(reply, s, 'caps', await capsBody(c, s.session, s.viewer, undefined, notice(ok ? 'Cap deleted.' : `Not deleted: ${errorOf(res)}`, !ok)), ok ? 200 : res.status);
  });

  action('/console/users/cap', async (s, b, reply) => {
    const cents = dollarsToCents(b.dollars ?? '');
    const period = ['daily', 'weekly', 'monthly'].includes(b.period ?? '') ? b.period! : 'monthly';
    if (!cents || !b.user_id) return outcome(reply, s, 'users', false, 'Type the cap in dollars, e.g. 25 or 0.01.', () => usersPageFor(s));
    const res = await adminApi(c, s.session, 'POST', '/v1/organizations/spend_limits', { scope: { type: 'user', user_id: b.user_id }, amount: cents, currency: 'USD', period });
    return outcome(reply, s, 'users', res.status === 200, res.status === 200 ? `Cap of $${b.dollars} ${period} set for ${b.user_id}.` : `Not saved: ${errorOf(res)}`, () => usersPageFor(s));
  });

  action('/console/users/revoke', async (s, b, reply) => {
    const user = (b.user_id ?? '').slice(0, 512);
    const res = await adminApi(c, s.session, 'POST', `/v1/organizations/users/${encodeURIComponent(user)}/sessions/revoke`, {});
    return outcome(reply, s, 'users', res.status === 200, res.status === 200 ? `Every session of ${user} has ended; their next request is refused until they sign in again.` : `Not revoked: ${errorOf(res)}`, () => usersPageFor(s));
  });
  const usersPageFor = (s: Signed) => usersPage(c, { query: {} } as never, s);

  await consoleAuditRoutes(app, c, (reply, s, body, status) => show(reply, s, 'audit', body, status));
}

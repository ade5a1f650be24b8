/**
 * Caps, Groups & policies, Upstreams & models and Set-up (Audit: audit-page.ts). Listings come from the Admin
 * API called in-process as the signed-in person; spend per group from the rollups.
 */
import { lagTolerant } from '../../store/db';
import { periodWindows } from '../../spend/periods';
import { buildReport } from '../reports-routes';
import { html, type SafeHtml } from './html';
import { csrfField, type Viewer } from './layout';
import { adminApi, type ConsoleCtx, type PageRender } from './context';
import type { ConsoleSession } from './session';
import { centsToUsd, localDate, usd } from './pages-main';

const off = (v: Viewer) => (v.role === 'admin' ? '' : html` disabled title="read-only: viewer_groups members cannot change anything"`);

interface Limit {
  id: string;
  scope: { type: string; user_id?: string; rbac_group_id?: string };
  amount: string;
  period: string;
  updated_at: string;
}
const scopeText = (s: Limit['scope']) => (s.type === 'user' ? `user ${s.user_id}` : s.type === 'rbac_group' ? `group ${s.rbac_group_id}` : 'organisation');

export interface CapDraft {
  scope_type: string;
  scope_id: string;
  period: string;
  dollars: string;
}

/** "12 users, 3 of them already over this": who a cap would cover and who is over it now. */
export async function capEffect(c: ConsoleCtx, d: CapDraft, cents: bigint): Promise<{ users: number; over: number }> {
  const w = periodWindows(c.fctx.clock.now()).find((x) => x.period === d.period);
  const where = d.scope_type === 'user' ? 'p.sub = $2' : d.scope_type === 'rbac_group' ? 'p.groups ? $2' : '$2 = $2';
  const { rows } = await lagTolerant(c.fctx.db).query<{ users: string; over: string }>(
    `SELECT count(*)::text AS users, count(*) FILTER (WHERE coalesce(s.spent_micros, 0) >= $3::bigint)::text AS over
     FROM spend_principals p LEFT JOIN spend_counters s ON s.principal = p.sub AND s.bucket = $1 WHERE ${where}`,
    [w?.bucket ?? '', d.scope_id, (cents * 10_000n).toString()],
  );
  return { users: Number(rows[0]?.users ?? 0), over: Number(rows[0]?.over ?? 0) };
}

export async function capsBody(c: ConsoleCtx, s: ConsoleSession, v: Viewer, draft?: CapDraft, notice?: SafeHtml): Promise<SafeHtml> {
  const list = await adminApi(c, s, 'GET', '/v1/organizations/spend_limits?limit=100');
  const limits = ((list.body as { data?: Limit[] })?.data ?? []) as Limit[];
  const d = draft ?? { scope_type: 'user', scope_id: '', period: 'monthly', dollars: '' };
  const opt = (value: string, label: string, cur: string) => html`<option value="${value}"${value === cur ? html` selected` : ''}>${label}</option>`;
  return html`${notice ?? ''}<h2>Create or replace a cap</h2>
<form method="post" action="/console/caps" class="bar">${csrfField(v)}
<label>Applies to<select name="scope_type">${opt('user', 'a user', d.scope_type)}${opt('rbac_group', 'a group', d.scope_type)}${opt('organization', 'the organisation', d.scope_type)}</select></label>
<label>User or group<input name="scope_id" value="${d.scope_id}" autocomplete="off"></label>
<label>Period<select name="period">${['daily', 'weekly', 'monthly'].map((p) => opt(p, p, d.period))}</select></label>
<label>Amount in $<input name="dollars" value="${d.dollars}" inputmode="decimal" required></label>
<button type="submit" name="intent" value="preview">Show effect</button><button type="submit" name="intent" value="save"${off(v)}>Save cap</button></form>
<h2>Caps</h2><table><thead><tr><th>Scope</th><th>Period</th><th class="n">Amount</th><th>Updated</th><th>Actions</th></tr></thead><tbody>
${limits.map((l) => html`<tr><td>${scopeText(l.scope)}</td><td>${l.period}</td><td class="n">${centsToUsd(l.amount)}</td><td>${l.updated_at.slice(0, 16).replace('T', ' ')}</td>
<td><form method="post" action="/console/caps/delete" class="inline" data-confirm="Delete this cap?">${csrfField(v)}<input type="hidden" name="id" value="${l.id}"><button type="submit" class="danger"${off(v)}>Delete</button></form></td></tr>`)}
</tbody></table>${limits.length ? '' : html`<p class="muted">No caps yet.</p>`}`;
}

export const capsPage: PageRender = async (c, _req, { session, viewer }) => capsBody(c, session, viewer);

interface Policy {
  name?: string;
  match: { groups?: string[]; email_domain?: string };
}

export const groupsPage: PageRender = async (c, _req, { session }) => {
  const policies = (c.fctx.config.managed?.policies ?? []) as Policy[];
  const now = c.fctx.clock.now();
  const month = localDate(now, 'UTC').slice(0, 8) + '01';
  const spend = await buildReport(c.fctx.db, 'spend', { from: month, to: localDate(now + 86_400_000, 'UTC'), tz: 'UTC', group_by: 'group', bucket: 'none' });
  const merged = await Promise.all(
    policies.map(async (p) => {
      // What a member receives, as the gateway serves it: GET /managed/settings for a member of the first matching group.
      const groups = p.match.groups ?? [];
      const email = p.match.email_domain ? `member@${p.match.email_domain}` : session.email;
      const { token } = c.fctx.tokens.mint({ sub: `console-preview:${session.sub}`, email, groups });
      const res = await c.app.inject({ method: 'GET', url: '/managed/settings', headers: { authorization: `Bearer ${token}` } });
      return res.statusCode === 200 ? (JSON.parse(res.body) as { checksum?: string; settings?: unknown }) : undefined;
    }),
  );
  return html`<h2>Policies</h2>${policies.length ? '' : html`<p class="muted">No policies configured (managed.policies).</p>`}
${policies.map((p, i) => html`<section><h3>${p.name ?? `policy ${i + 1}`}</h3><p>Matches ${p.match.groups ? html`groups <b>${p.match.groups.join(', ')}</b>` : ''}${p.match.email_domain ? html` email domain <b>${p.match.email_domain}</b>` : ''}.
Checksum <code>${merged[i]?.checksum ?? '—'}</code></p><details><summary>Settings a member receives (merged)</summary><pre>${JSON.stringify(merged[i]?.settings ?? null, null, 2)}</pre></details></section>`)}
<h2>Spend per group this month (UTC)</h2><table><thead><tr><th>Group</th><th class="n">Requests</th><th class="n">Spend</th></tr></thead><tbody>
${spend.data.map((r) => html`<tr><td>${r.key ?? '(no group)'}</td><td class="n">${r.requests}</td><td class="n">${usd(r.cost_micros)}</td></tr>`)}</tbody></table>`;
};

export const upstreamsPage: PageRender = async (c, _req, { session }) => {
  const ups = await adminApi(c, session, 'GET', '/v1/organizations/upstreams');
  const data = ((ups.body as { data?: { name: string; provider: string; circuit: { state: string; consecutive_failures: number } }[] })?.data ?? []);
  const models = c.fctx.config.models ?? [];
  return html`<h2>Upstreams</h2><table><thead><tr><th>Name</th><th>Provider</th><th>Breaker</th><th class="n">Consecutive failures</th></tr></thead><tbody>
${data.map((u) => html`<tr><td>${u.name}</td><td>${u.provider}</td><td class="${u.circuit.state === 'closed' ? 'ok' : 'bad'}">${u.circuit.state}</td><td class="n">${u.circuit.consecutive_failures}</td></tr>`)}</tbody></table>
<h2>Model catalogue</h2>${models.length ? html`<pre>${JSON.stringify(models, null, 2)}</pre>` : html`<p class="muted">No models configured: every upstream serves every model under the client's ID${c.fctx.config.auto_include_builtin_models ? ', with the built-in price list' : ''}.</p>`}
<h2>Prices</h2><p>Multiplier ${c.fctx.config.pricing.multiplier}; ${c.fctx.config.pricing.overrides.length} override(s).</p>${c.fctx.config.pricing.overrides.length ? html`<pre>${JSON.stringify(c.fctx.config.pricing.overrides, null, 2)}</pre>` : ''}`;
};

export const setupPage: PageRender = async (c) => {
  const url = c.fctx.config.publicUrl;
  const managed = { env: { ANTHROPIC_BASE_URL: url }, forceLoginMethod: 'console', apiKeyHelper: undefined };
  return html`<h2>Claude Code</h2><p>Managed settings (<code>/etc/claude-code/managed-settings.json</code> on Linux, <code>/Library/Application Support/ClaudeCode/managed-settings.json</code> on macOS):</p>
<pre>${JSON.stringify({ env: managed.env }, null, 2)}</pre><p>Then run <code>/login</code> in Claude Code; the gateway signs people in through your identity provider.</p>
<h2>VS Code extension</h2><pre>${JSON.stringify({ 'tollgate.gatewayUrl': url }, null, 2)}</pre>
<h2>Any Anthropic SDK</h2><pre>ANTHROPIC_BASE_URL=${url}</pre>
<h2>Codex</h2><p class="muted">Not yet supported by this gateway.</p>`;
};

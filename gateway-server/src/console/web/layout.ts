/**
 * The console page shell: one HTML response with its style and script inline under a
 * per-response CSP nonce and an empty inline icon (so browsers do not ask for /favicon.ico): one
 * HTTP request per page view. Light and dark schemes by
 * prefers-color-scheme, a skip link and a plain nav for keyboard use.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { html, trusted, type SafeHtml } from './html';
import type { ConsoleRole } from './session';

export const NAV = [
  ['overview', 'Overview', '/console'],
  ['users', 'Users', '/console/users'],
  ['groups', 'Groups & policies', '/console/groups'],
  ['caps', 'Caps', '/console/caps'],
  ['audit', 'Audit', '/console/audit'],
  ['upstreams', 'Upstreams & models', '/console/upstreams'],
  ['setup', 'Set-up', '/console/setup'],
] as const;
export type PageId = (typeof NAV)[number][0];

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0a58ca;--bad:#b42318;--ok:#1a7f37;--card:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--accent:#6cb6ff;--bad:#ff7b72;--ok:#56d364;--card:#161b22}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:6px}
header{display:flex;gap:16px;align-items:center;padding:10px 20px;border-bottom:1px solid var(--line);flex-wrap:wrap}
header strong{font-size:17px}nav ul{display:flex;gap:4px;list-style:none;margin:0;padding:0;flex-wrap:wrap}
nav a{display:block;padding:6px 10px;border-radius:6px;text-decoration:none}nav a[aria-current=page]{background:var(--card);font-weight:600;color:var(--fg)}
main{padding:20px;max-width:1200px}h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:12px}.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:20px}.muted{color:var(--muted)}.bad{color:var(--bad)}.ok{color:var(--ok)}
form.inline{display:inline}form.bar{display:flex;gap:8px;flex-wrap:wrap;align-items:end;margin:8px 0}
label{display:flex;flex-direction:column;font-size:13px;gap:2px}input,select,button{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
button{cursor:pointer;background:var(--card)}button.danger{color:var(--bad)}button[disabled]{opacity:.6;cursor:not-allowed}
.notice{border:1px solid var(--line);border-left:4px solid var(--accent);padding:8px 12px;margin:8px 0;background:var(--card)}
.notice.error{border-left-color:var(--bad)}ul.sessions{margin:0;padding-left:16px;font-size:13px}pre{background:var(--card);border:1px solid var(--line);padding:10px;overflow:auto;border-radius:6px}
svg text{fill:var(--fg);font-size:11px}.legend span{display:inline-flex;align-items:center;gap:4px;margin-right:12px}.legend i{width:10px;height:10px;display:inline-block}
`;

// Progressive enhancement only: every page and form works without it.
const SCRIPT = `
document.querySelectorAll('form[data-confirm]').forEach(function(f){f.addEventListener('submit',function(e){if(!confirm(f.getAttribute('data-confirm')))e.preventDefault();});});
var tz=document.querySelector('select[name=tz][data-auto]');if(tz&&!location.search.includes('tz=')){try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;for(var i=0;i<tz.options.length;i++)if(tz.options[i].value===z)tz.value=z;}catch(e){}}
document.querySelectorAll('button[data-verify]').forEach(function(b){b.addEventListener('click',function(){b.textContent='Verifying…';});});
`;

export interface Viewer {
  name: string;
  role: ConsoleRole;
  csrf: string;
}

export function csrfField(v: Viewer): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${v.csrf}">`;
}

export function sendHtml(reply: FastifyReply, title: string, body: SafeHtml, opts: { status?: number; page?: PageId; viewer?: Viewer; formOrigins?: string[] } = {}): FastifyReply {
  const nonce = randomBytes(18).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    `form-action 'self'${(opts.formOrigins ?? []).map((o) => ` ${o}`).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  const v = opts.viewer;
  const nav = v
    ? html`<nav aria-label="Console"><ul>${NAV.map(([id, label, href]) => html`<li><a href="${href}"${opts.page === id ? trusted(' aria-current="page"') : ''}>${label}</a></li>`)}</ul></nav>
<form method="post" action="/console/logout" class="inline">${csrfField(v)}<span class="muted">${v.name} · ${v.role === 'admin' ? 'admin' : 'read-only'}</span> <button type="submit">Sign out</button></form>`
    : '';
  const doc = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>${title} · Tollgate console</title><style nonce="${nonce}">${trusted(CSS)}</style></head>
<body><a class="skip" href="#main">Skip to content</a><header><strong>Tollgate</strong>${nav}</header>
<main id="main"><h1>${title}</h1>${body}</main><script nonce="${nonce}">${trusted(SCRIPT)}</script></body></html>`;
  return reply
    .code(opts.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .send(doc.value);
}

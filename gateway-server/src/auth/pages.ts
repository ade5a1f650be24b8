/**
 * The verification pages people see in their browser: plain server-rendered HTML, no script,
 * a strict CSP whose form-action admits only this gateway and the IdP.
 */
import type { FastifyReply } from 'fastify';

const e = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em;color:#1b1b1b}
h1{font-size:1.4em}.code{font-family:ui-monospace,monospace;font-size:1.6em;letter-spacing:.12em}
input[name=user_code]{font-family:ui-monospace,monospace;font-size:1.3em;letter-spacing:.1em;width:10em;text-transform:uppercase}
button{font-size:1em;padding:.45em 1.2em;margin:.8em .6em 0 0}.muted{color:#555}.warn{background:#fff4e5;border:1px solid #f0b36b;padding:.6em .8em}`;

export interface PageOptions {
  status?: number;
  /** Origins allowed as form targets besides 'self' (the IdP). */
  formActionOrigins?: readonly string[];
  devBanner?: boolean;
}

export function sendPage(reply: FastifyReply, title: string, bodyHtml: string, opts: PageOptions = {}): FastifyReply {
  const formAction = ["'self'", ...(opts.formActionOrigins ?? [])].join(' ');
  const banner = opts.devBanner
    ? '<p class="warn"><strong>Development sign-in.</strong> This gateway uses the built-in development identity provider: never use it in production.</p>'
    : '';
  return reply
    .code(opts.status ?? 200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`)
    .send(`<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${e(title)} · Tollgate</title><style>${STYLE}</style><body>${banner}<h1>${e(title)}</h1>${bodyHtml}</body></html>`);
}

/** Code entry / confirmation. A pre-filled code is shown for confirmation, never submitted by itself. */
export function codeForm(userCode: string | undefined, notice?: string): string {
  const pre = userCode ? e(userCode) : '';
  const intro = userCode
    ? `<p>Check that this code matches the one shown in your terminal or editor, then continue to sign in.</p>`
    : `<p>Enter the code shown in your terminal or editor.</p>`;
  return `${notice ? `<p class="warn">${e(notice)}</p>` : ''}${intro}
<form method="post" action="/device">
<label>Code <input name="user_code" value="${pre}" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="16" required></label><br>
<button type="submit">Continue</button><button type="submit" formaction="/device/deny" formnovalidate>Deny</button>
</form><p class="muted">If you did not start a sign-in, press Deny or close this page.</p>`;
}

export const para = (text: string) => `<p>${e(text)}</p>`;

/**
 * One error, four protocol shapes, chosen by route family: the Anthropic envelope for agents
 * (/v1/*, /api/* and everything else), OpenAI's `{error: {message, type, param, code}}` on the
 * OpenAI-family routes (/v1/responses), RFC 6749's `{error, error_description}` on /oauth/* and
 * /.well-known/*, and
 * a page a person can read on /device. Pure: returns status, headers and body text.
 */
import { GatewayError, OAuthError, renderAnthropicError, renderOAuthError, renderOpenAIError, type OAuthErrorCode } from '../errors';

export type RouteFamily = 'anthropic' | 'openai' | 'oauth' | 'page';

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The family of a request target (path with or without query; may be unparsable). */
export function routeFamily(url: string | undefined): RouteFamily {
  const path = (url ?? '').split('?')[0]!;
  if (path.startsWith('/oauth/') || path.startsWith('/.well-known/')) return 'oauth';
  if (path === '/device' || path.startsWith('/device/')) return 'page';
  if (path === '/v1/responses' || path.startsWith('/v1/responses/')) return 'openai';
  return 'anthropic';
}

function oauthCode(status: number): OAuthErrorCode {
  if (status === 503) return 'temporarily_unavailable';
  return status >= 500 ? 'server_error' : 'invalid_request';
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A sentence for people, the same catalogue message agents get, with what to do next. */
function page(status: number, message: string): RenderedError {
  const title = status >= 500 ? 'The gateway could not finish this step' : 'This request could not be used';
  const body =
    `<!doctype html><html lang="en"><meta charset="utf-8"><title>${title} · Tollgate</title>` +
    `<body style="font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em">` +
    `<h1 style="font-size:1.4em">${title}</h1><p>${escapeHtml(message)}.</p>` +
    `<p>Start the sign-in again from your terminal or editor; if it keeps happening, tell your administrator.</p></body></html>`;
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    },
    body,
  };
}

export function renderError(err: GatewayError | OAuthError, family: RouteFamily, requestId?: string): RenderedError {
  if (err instanceof OAuthError) {
    if (family === 'page') return page(err.status, err.description ?? err.error);
    const r = renderOAuthError(err);
    return { status: r.status, headers: r.headers, body: JSON.stringify(r.body) };
  }
  if (family === 'oauth') {
    const r = renderOAuthError(new OAuthError(oauthCode(err.status), err.status, err.message, err.headers));
    return { status: r.status, headers: r.headers, body: JSON.stringify(r.body) };
  }
  if (family === 'page') return page(err.status, err.message);
  if (family === 'openai') {
    const r = renderOpenAIError(err);
    return { status: r.status, headers: r.headers, body: JSON.stringify(r.body) };
  }
  const r = renderAnthropicError(err, requestId);
  return { status: r.status, headers: r.headers, body: JSON.stringify(r.body) };
}

/**
 * The answer for a request whose store (PostgreSQL) cannot be reached: a 503 in the route's
 * protocol shape, used by the front door at boot and by the app's error handler mid-outage.
 */
import { GatewayError, OAuthError, renderAnthropicError, renderOAuthError } from '../errors';

export const RETRY_AFTER = '5';

/** Routes that speak OAuth (RFC 6749 error bodies) rather than the Anthropic envelope. */
export function isOAuthPath(url: string): boolean {
  const path = url.split('?')[0]!;
  return path.startsWith('/oauth/') || path === '/device' || path === '/device/deny' || path.startsWith('/.well-known/');
}

/** The reply for a request the store is needed for and cannot be reached. */
export function storeUnreachableReply(url: string, requestId: string): { status: number; headers: Record<string, string>; body: unknown } {
  if (isOAuthPath(url)) {
    const r = renderOAuthError(
      new OAuthError('temporarily_unavailable', 503, "the gateway cannot reach its database right now, so sign-in and refresh are paused: retry in a few seconds (your current session keeps working until it expires)", {
        'retry-after': RETRY_AFTER,
      }),
    );
    return r;
  }
  const r = renderAnthropicError(new GatewayError('STORE_UNREACHABLE', undefined, { headers: { 'retry-after': RETRY_AFTER } }), requestId);
  return r;
}


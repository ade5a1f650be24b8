/**
 * The answer for a request whose store (PostgreSQL) cannot be reached: a 503 in the route's
 * protocol shape (the one route classifier, edge/render.ts), used by the front door at boot and
 * by the app's error handler mid-outage.
 */
import { GatewayError, OAuthError } from '../errors';
import { renderError, routeFamily, type RenderedError } from './render';

export const RETRY_AFTER = '5';

const SIGN_IN_PAUSED =
  'the gateway cannot reach its database right now, so sign-in and refresh are paused: retry in a few seconds (your current session keeps working until it expires)';

/** The reply for a request the store is needed for and cannot be reached. */
export function storeUnreachableReply(url: string, requestId: string): RenderedError {
  const family = routeFamily(url);
  const headers = { 'retry-after': RETRY_AFTER };
  const err =
    family === 'oauth' || family === 'page'
      ? new OAuthError('temporarily_unavailable', 503, SIGN_IN_PAUSED, headers)
      : new GatewayError('STORE_UNREACHABLE', undefined, { headers });
  return renderError(err, family, requestId);
}

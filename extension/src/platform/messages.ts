/** One table from error codes to sentences that say what to do (match on codes, never text). */
import { SignInError, type SignInErrorCode } from '../auth/device-flow';
import { unreachableSentence } from './reach-error';

export const SIGN_IN_MESSAGES: Record<SignInErrorCode, string> = {
  ACCESS_DENIED: 'Sign-in was denied in the browser. Run "Tollgate: Sign In" to try again, or ask your administrator for access.',
  EXPIRED: 'The sign-in code expired before it was approved. Run "Tollgate: Sign In" to get a new code.',
  CANCELLED: 'Sign-in cancelled.',
  INVALID_GRANT: 'Your Tollgate session ended (expired or revoked). Sign in again to continue.',
  UNAVAILABLE: 'The gateway is temporarily unavailable. Try again in a minute; if it persists, check "Tollgate: Open Gateway Status".',
  UNREACHABLE: 'Could not reach the gateway. Check the "tollgate.gatewayUrl" setting and your network, then try again.',
  BAD_RESPONSE: 'The gateway answered in an unexpected way. Check that "tollgate.gatewayUrl" points at a Tollgate or compatible gateway.',
};

/** A failed sign-in as a sentence: the known codes above, a network failure in plain words. */
export function signInErrorMessage(err: unknown, gatewayUrl: string): string {
  return err instanceof SignInError ? SIGN_IN_MESSAGES[err.code] : `Tollgate sign-in failed. ${unreachableSentence(gatewayUrl, err)}`;
}

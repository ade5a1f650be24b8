/**
 * The Accounts badge while a sign-in is pending. `getSession` with `createIfNone: false` (and
 * not `silent`) is VS Code's documented way to ask quietly: a numbered badge on the Accounts
 * icon and a "Sign in with Tollgate to use Tollgate" entry in its menu, which VS Code removes by
 * itself once a session is added. Asked whenever a gateway is set and nobody is signed in
 * (before the first sign-in, after sign-out or an ended session, during the device-flow wait).
 */
import * as vscode from 'vscode';
import type { TollgateState } from '../platform/state';
import { PROVIDER_ID, SESSION_SCOPES } from './provider';

export function requestSignInBadge(state: TollgateState): vscode.Disposable {
  let asked = false;
  const check = () => {
    const pending = !state.session && !!state.gatewayUrl;
    if (!pending) {
      asked = false;
      return;
    }
    if (asked) return;
    asked = true;
    Promise.resolve(vscode.authentication.getSession(PROVIDER_ID, SESSION_SCOPES, { createIfNone: false })).catch(() => (asked = false));
  };
  return state.onDidChange(check);
}

/**
 * The editor side of the device flow: open the verification page, show the user code with a
 * Copy action, show progress while polling (cancellable), then hand the tokens to the manager.
 */
import * as vscode from 'vscode';
import { createSignInClient, pollForToken, SignInError, startDeviceAuthorization } from './device-flow';
import type { SessionManager } from './session-manager';
import type { StoredSession } from './session';
import { SIGN_IN_MESSAGES } from '../platform/messages';
import type { Log } from '../platform/log';

export async function runSignIn(manager: SessionManager, gatewayUrl: string, log: Log): Promise<StoredSession> {
  const client = createSignInClient(gatewayUrl);
  const grant = await startDeviceAuthorization(client);
  const target = grant.verification_uri_complete ?? grant.verification_uri;
  log.info(`sign-in: device code issued, verification at ${new URL(target).origin}`);
  // The code first, then the browser: openExternal can wait on a confirmation dialog, and the
  // code must be visible whatever happens to the browser (another device, a blocked pop-up).
  void vscode.window
    .showInformationMessage(
      `Tollgate sign-in code: ${grant.user_code}. Confirm it on the page that opens in your browser, or open ${grant.verification_uri} and enter it.${grant.login_notice ? ` ${grant.login_notice}` : ''}`,
      'Copy Code',
      'Open Page',
    )
    .then(async (choice) => {
      if (choice === 'Copy Code') await vscode.env.clipboard.writeText(grant.user_code);
      if (choice === 'Open Page') await vscode.env.openExternal(vscode.Uri.parse(target, true));
    });
  void vscode.env.openExternal(vscode.Uri.parse(target, true));
  const tokens = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Tollgate: waiting for approval of ${grant.user_code}…`, cancellable: true },
    async (_progress, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      return pollForToken(client, grant, { signal: abort.signal });
    },
  );
  const session = await manager.adopt(gatewayUrl, tokens);
  log.info(`sign-in: signed in as ${session.account.label}`);
  return session;
}

export function signInErrorMessage(err: unknown): string {
  return err instanceof SignInError ? SIGN_IN_MESSAGES[err.code] : `Tollgate sign-in failed: ${(err as Error).message}`;
}

/**
 * The editor side of the device flow: open the verification page, show the user code in one
 * cancellable progress notification while polling, then hand the tokens to the manager.
 */
import * as vscode from 'vscode';
import { createSignInClient, pollForToken, startDeviceAuthorization } from './device-flow';
import type { SessionManager } from './session-manager';
import type { StoredSession } from './session';
import type { Log } from '../platform/log';

export async function runSignIn(manager: SessionManager, gatewayUrl: string, log: Log, onPending: (p: { userCode: string; verificationUri: string } | undefined) => void = () => {}): Promise<StoredSession> {
  const client = createSignInClient(gatewayUrl);
  const grant = await startDeviceAuthorization(client);
  const target = grant.verification_uri_complete ?? grant.verification_uri;
  log.info(`sign-in: device code issued, verification at ${new URL(target).origin}`);
  // One notification for the whole wait, carrying the code: it closes by itself when sign-in
  // ends (a notification with buttons would stay on screen afterwards). The page opens with the
  // code filled in; only if the browser cannot be opened are Copy/Open buttons offered.
  onPending({ userCode: grant.user_code, verificationUri: grant.verification_uri });
  const tokens = await Promise.resolve(vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Tollgate sign-in code: ${grant.user_code}`,
      cancellable: true,
    },
    async (progress, cancel) => {
      progress.report({
        message: `Confirm it on the page that opens in your browser (or open ${grant.verification_uri} and enter it).${grant.login_notice ? ` ${grant.login_notice}` : ''}`,
      });
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      void vscode.env.openExternal(vscode.Uri.parse(target, true)).then((opened) => {
        if (opened || abort.signal.aborted) return;
        log.warn('sign-in: the browser could not be opened; offering the code and link');
        void vscode.window
          .showWarningMessage(`Tollgate could not open your browser. Open ${grant.verification_uri} and enter ${grant.user_code}.`, 'Copy Code', 'Open Page')
          .then(async (choice) => {
            if (choice === 'Copy Code') await vscode.env.clipboard.writeText(grant.user_code);
            if (choice === 'Open Page') await vscode.env.openExternal(vscode.Uri.parse(target, true));
          });
      });
      return pollForToken(client, grant, { signal: abort.signal });
    },
  )).finally(() => onPending(undefined));
  const session = await manager.adopt(gatewayUrl, tokens);
  log.info(`sign-in: signed in as ${session.account.label}`);
  return session;
}

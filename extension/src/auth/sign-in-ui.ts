/**
 * The editor side of the device flow, shaped like VS Code's own GitHub sign-in: a modal with
 * the one-time code and "Copy Code and Open Browser" (copies the code, opens the verification
 * page), then one cancellable progress notification carrying the code while the gateway is
 * polled, then the tokens go to the manager.
 */
import * as vscode from 'vscode';
import { createSignInClient, pollForToken, startDeviceAuthorization } from './device-flow';
import type { SessionManager } from './session-manager';
import type { StoredSession } from './session';
import type { Log } from '../platform/log';
import { codePrompt, COPY_AND_OPEN } from './sign-in-text';

export interface SignInOptions {
  /** Skip the modal (the in-host test suite, where VS Code answers every dialog with Cancel). */
  noPrompt?: boolean;
  onPending?: (p: { userCode: string; verificationUri: string } | undefined) => void;
}

/** Resolves undefined when the developer dismisses the code modal. */
export async function runSignIn(manager: SessionManager, gatewayUrl: string, log: Log, opts: SignInOptions = {}): Promise<StoredSession | undefined> {
  const onPending = opts.onPending ?? (() => {});
  const client = createSignInClient(gatewayUrl);
  const grant = await startDeviceAuthorization(client);
  const target = grant.verification_uri_complete ?? grant.verification_uri;
  log.info(`sign-in: device code issued, verification at ${new URL(target).origin}`);
  onPending({ userCode: grant.user_code, verificationUri: grant.verification_uri });
  try {
    if (!opts.noPrompt) {
      const p = codePrompt(gatewayUrl, grant.user_code, grant.login_notice);
      const choice = await vscode.window.showInformationMessage(p.message, { modal: true, detail: p.detail }, COPY_AND_OPEN);
      if (choice !== COPY_AND_OPEN) {
        log.info('sign-in: dismissed at the code prompt');
        return undefined;
      }
      await Promise.resolve(vscode.env.clipboard.writeText(grant.user_code)).catch(() => log.warn('sign-in: could not copy the code to the clipboard'));
    }
    // One notification for the whole wait, carrying the code: it closes by itself when sign-in
    // ends (a notification with buttons would stay on screen afterwards).
    const tokens = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Tollgate sign-in code: ${grant.user_code}`, cancellable: true },
      async (progress, cancel) => {
        progress.report({ message: `Waiting for you to confirm it at ${grant.verification_uri} in your browser…` });
        const abort = new AbortController();
        cancel.onCancellationRequested(() => abort.abort());
        void openPage(target, grant, log, abort.signal);
        return pollForToken(client, grant, { signal: abort.signal });
      },
    );
    const session = await manager.adopt(gatewayUrl, tokens);
    log.info(`sign-in: signed in as ${session.account.label}`);
    return session;
  } finally {
    onPending(undefined);
  }
}

/** Opens the verification page; only if the browser cannot be opened are Copy/Open offered. */
async function openPage(target: string, grant: { user_code: string; verification_uri: string }, log: Log, signal: AbortSignal): Promise<void> {
  const opened = await vscode.env.openExternal(vscode.Uri.parse(target, true));
  if (opened || signal.aborted) return;
  log.warn('sign-in: the browser could not be opened; offering the code and link');
  const choice = await vscode.window.showWarningMessage(`Tollgate could not open your browser. Open ${grant.verification_uri} and enter ${grant.user_code}.`, 'Copy Code', 'Open Page');
  if (choice === 'Copy Code') await vscode.env.clipboard.writeText(grant.user_code);
  if (choice === 'Open Page') await vscode.env.openExternal(vscode.Uri.parse(target, true));
}

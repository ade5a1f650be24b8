/**
 * The `vscode.AuthenticationProvider`: the account appears in the Accounts menu and other
 * extensions can ask for a Tollgate session with `vscode.authentication.getSession('tollgate', [])`.
 * VS Code calls `createSession` when something asks with `createIfNone`.
 */
import * as vscode from 'vscode';
import type { SessionManager } from './session-manager';
import type { StoredSession } from './session';

export const PROVIDER_ID = 'tollgate';
/**
 * The one scope a Tollgate session has (the gateway's API). Not empty on purpose: VS Code keys a
 * pending sign-in request by its scopes joined with a separator and splits the key again to
 * match new sessions, so a request for no scopes ([""] after the split) is never cleared.
 */
export const SESSION_SCOPES = ['gateway'];

export class TollgateAuthProvider implements vscode.AuthenticationProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
  readonly onDidChangeSessions = this.emitter.event;
  private readonly sub: { dispose(): void };

  constructor(
    private readonly manager: SessionManager,
    private readonly signIn: () => Promise<StoredSession | undefined>,
  ) {
    this.sub = manager.onDidChange((c) => {
      if (!c.session) return;
      const s = this.toSession(c.session);
      if (c.kind === 'signedIn') this.emitter.fire({ added: [s], removed: [], changed: [] });
      else if (c.kind === 'refreshed') this.emitter.fire({ added: [], removed: [], changed: [s] });
      else this.emitter.fire({ added: [], removed: [s], changed: [] });
    });
  }

  private toSession(s: StoredSession): vscode.AuthenticationSession {
    return { id: s.sessionId, accessToken: s.accessToken, account: { id: s.account.id, label: s.account.label }, scopes: SESSION_SCOPES };
  }

  async getSessions(): Promise<vscode.AuthenticationSession[]> {
    // Hand out a bearer that is still good, refreshing silently first if it is about to expire.
    const token = await this.manager.accessToken();
    const s = this.manager.current;
    return token && s ? [this.toSession(s)] : [];
  }

  async createSession(): Promise<vscode.AuthenticationSession> {
    const s = await this.signIn();
    if (!s) throw new Error('Tollgate sign-in did not complete');
    return this.toSession(s);
  }

  async removeSession(): Promise<void> {
    await vscode.commands.executeCommand('tollgate.signOut');
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}

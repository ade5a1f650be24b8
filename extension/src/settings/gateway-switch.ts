/**
 * Choosing the gateway in the editor: the address asked for at sign-in when none is set (like
 * the GitHub Enterprise sign-in), "Switch Gateway…" from the status-bar menu, and the sentence
 * a switch says ("Signed out of X, signing in to Y"). The session at the old gateway is set
 * aside, never revoked.
 */
import * as vscode from 'vscode';
import { gatewayUrlProblem, normaliseGatewayInput, switchSentence } from './gateway-url';
import type { SessionManager } from '../auth/session-manager';
import type { TollgateState } from '../platform/state';

export async function askGatewayUrl(current: string, title: string): Promise<string | undefined> {
  const typed = await vscode.window.showInputBox({
    title,
    prompt: "Your organisation's Tollgate gateway address",
    placeHolder: 'https://gateway.example.com',
    value: current,
    ignoreFocusOut: true,
    validateInput: (t) => gatewayUrlProblem(t),
  });
  return !typed || gatewayUrlProblem(typed) ? undefined : normaliseGatewayInput(typed);
}

export class GatewaySwitch {
  /** Set while the switch command itself writes the setting (its change event is then ours). */
  private asked: string | undefined;

  constructor(
    private readonly state: TollgateState,
    private readonly sessions: SessionManager,
    private readonly after: () => void,
    private readonly signIn: () => Promise<unknown>,
  ) {}

  static saveSetting(url: string): Thenable<void> {
    return vscode.workspace.getConfiguration('tollgate').update('gatewayUrl', url, vscode.ConfigurationTarget.Global);
  }

  /** "Switch Gateway…": ask, write the user setting, sign in there unless a session is kept. */
  async choose(): Promise<void> {
    const to = await askGatewayUrl(this.state.gatewayUrl, 'Tollgate: Switch Gateway');
    if (!to || to === this.state.gatewayUrl) return;
    this.asked = to;
    try {
      await GatewaySwitch.saveSetting(to);
      await this.apply(to, true);
    } finally {
      this.asked = undefined;
    }
  }

  /** The setting changed (Settings editor, settings.json, an administrator's policy). */
  async onSettingChanged(to: string): Promise<void> {
    if (this.asked !== undefined || to === this.state.gatewayUrl) return;
    await this.apply(to, false);
  }

  private async apply(to: string, asked: boolean): Promise<void> {
    const from = this.sessions.current?.gatewayUrl;
    this.state.gatewayUrl = to;
    const restored = await this.sessions.switchGateway(to);
    this.state.session = this.sessions.current;
    this.after();
    if (from === to) return;
    if (!from && !asked) return;
    const text = switchSentence({ from, to, restoredAs: restored?.account.label, asked });
    if (asked) {
      void vscode.window.showInformationMessage(text);
      if (!restored && to) await this.signIn();
      return;
    }
    const choice = await vscode.window.showInformationMessage(text, ...(restored || !to ? [] : ['Sign In']));
    if (choice) await this.signIn();
  }
}

/**
 * The activity-bar webview. VS Code calls `resolveWebviewView` when the view first becomes
 * visible; the view posts `view/ready`, then receives state on every change. Incoming messages
 * are parsed with the shared contract and anything else is dropped.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { hostToWebviewSchema, webviewToHostSchema, type HostToWebview, type WebviewCommand } from '../../../gateway-server/src/protocol/webview';
import { sidebarHtml } from './html';
import type { TollgateState } from '../platform/state';
import type { Log } from '../platform/log';

export const SIDEBAR_VIEW_ID = 'tollgate.sidebar';

const COMMANDS: Record<Exclude<WebviewCommand, 'copySignInCode'>, string> = {
  signIn: 'tollgate.signIn',
  signOut: 'tollgate.signOut',
  refresh: 'tollgate.refreshPolicy',
  openGatewayStatus: 'tollgate.openGatewayStatus',
};

export class SidebarView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private readonly subs: { dispose(): void }[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly state: TollgateState,
    private readonly log: Log,
  ) {
    this.subs.push(state.onDidChange(() => this.push()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.log.info('sidebar: view resolved');
    this.view = view;
    this.ready = false;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist] };
    view.webview.html = sidebarHtml({
      nonce: randomBytes(16).toString('base64'),
      cspSource: view.webview.cspSource,
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.css')).toString(),
      codiconsUri: view.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'codicon.css')).toString(),
    });
    this.subs.push(view.webview.onDidReceiveMessage((m) => void this.onMessage(m)));
    this.subs.push(view.onDidDispose(() => ((this.view = undefined), (this.ready = false))));
  }

  private post(msg: HostToWebview): void {
    // Validate our own output too: a drifted shape fails here, not silently in the view.
    const parsed = hostToWebviewSchema.safeParse(msg);
    if (!parsed.success) {
      this.log.error(`sidebar: refusing to post an invalid ${msg.type} message`);
      return;
    }
    void this.view?.webview.postMessage(parsed.data);
  }

  private push(): void {
    if (this.view && this.ready) this.post({ type: 'state/update', state: this.state.sidebar() });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = webviewToHostSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn('sidebar: dropped a message that does not match the contract');
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'view/ready') {
      this.ready = true;
      this.push();
      return;
    }
    try {
      if (msg.method === 'command/run') {
        const c = msg.params.command;
        if (c !== 'copySignInCode') await vscode.commands.executeCommand(COMMANDS[c]);
        else if (this.state.signingIn) await vscode.env.clipboard.writeText(this.state.signingIn.userCode);
      } else this.push();
      this.post({ type: 'rpc/result', id: msg.id, ok: true });
    } catch (err) {
      this.post({ type: 'rpc/result', id: msg.id, ok: false, error: (err as Error).message });
    }
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}

/** Clicking the status-bar item: a QuickPick like Copilot's status menu (entries in menu.ts). */
import * as vscode from 'vscode';
import type { TollgateState } from '../platform/state';
import { statusMenu, type MenuAction } from './menu';

const COMMAND: Record<MenuAction, string> = {
  signIn: 'tollgate.signIn',
  openSidebar: 'tollgate.showSpend',
  refreshPolicy: 'tollgate.refreshPolicy',
  switchGateway: 'tollgate.switchGateway',
  signOut: 'tollgate.signOut',
  openGatewayStatus: 'tollgate.openGatewayStatus',
};

type Item = vscode.QuickPickItem & { action?: MenuAction };

export async function showStatusMenu(state: TollgateState): Promise<void> {
  const view = state.sidebar();
  const entries = statusMenu({ signedIn: view.signedIn, gatewayUrl: view.gatewayUrl, account: state.session?.account.label, status: view.status, caps: view.caps });
  const items: Item[] = entries.map((e) =>
    e.separator ? { label: e.label, kind: vscode.QuickPickItemKind.Separator } : { label: e.label, description: e.description, detail: e.detail, action: e.action },
  );
  const pick = await vscode.window.showQuickPick(items, { title: `Tollgate · ${view.gatewayUrl || 'no gateway set'}`, placeHolder: view.signedIn ? 'Usage and actions' : 'Not signed in' });
  if (pick?.action) await vscode.commands.executeCommand(COMMAND[pick.action]);
}

/** The budget item in the status bar; clicking opens the status menu (status-menu.ts). */
import * as vscode from 'vscode';
import type { TollgateState } from '../platform/state';

const COLOURS = { warning: 'statusBarItem.warningBackground', error: 'statusBarItem.errorBackground' } as const;
const ICONS = { ok: '$(pulse)', warning: '$(warning)', error: '$(error)', offline: '$(debug-disconnect)', signedOut: '$(account)' } as const;

export function createStatusBar(state: TollgateState): vscode.Disposable {
  // The DOM id is "<publisher>.<name>.budget", which the UI tests look for.
  const item = vscode.window.createStatusBarItem('budget', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Tollgate Budget';
  const render = () => {
    const v = state.status();
    item.text = `${ICONS[v.severity]} ${v.text}`;
    item.tooltip = v.tooltip;
    item.accessibilityInformation = { label: `Tollgate budget: ${v.text}`, role: 'button' };
    item.backgroundColor = v.severity === 'warning' || v.severity === 'error' ? new vscode.ThemeColor(COLOURS[v.severity]) : undefined;
  };
  item.command = 'tollgate.showMenu';
  render();
  item.show();
  const sub = state.onDidChange(render);
  return { dispose: () => (sub.dispose(), item.dispose()) };
}

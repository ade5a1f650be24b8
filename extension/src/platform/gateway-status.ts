/** "Tollgate: Open Gateway Status": a fresh health check, summarised, with a link to the gateway. */
import * as vscode from 'vscode';
import type { Controller } from './controller';
import type { TollgateState } from './state';

export async function showGatewayStatus(controller: Controller, state: TollgateState): Promise<void> {
  if (!state.gatewayUrl) {
    void vscode.window.showWarningMessage('No gateway configured: set "tollgate.gatewayUrl".');
    return;
  }
  await controller.refreshHealth();
  const h = state.health;
  const who = state.session ? `signed in as ${state.session.account.label}` : 'not signed in';
  const text = `Tollgate gateway ${state.gatewayUrl}: ${h.detail} You are ${who}; agents in this window use the proxy ${state.proxyUrl ?? '(not running)'}.`;
  const show = h.reachable && h.ready !== false ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  const choice = await show(text, 'Open Gateway');
  if (choice) await vscode.env.openExternal(vscode.Uri.parse(state.gatewayUrl));
}

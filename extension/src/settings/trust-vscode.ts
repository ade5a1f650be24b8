/** The editor's side of Workspace Trust for the pure TrustGate (trust.ts). */
import * as vscode from 'vscode';
import { TrustGate } from './trust';

export function workspaceTrustGate(): TrustGate {
  return new TrustGate({
    get isTrusted() {
      return vscode.workspace.isTrusted;
    },
    onDidGrant: (listener) => vscode.workspace.onDidGrantWorkspaceTrust(listener),
  });
}

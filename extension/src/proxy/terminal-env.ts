/**
 * Terminals opened in this window reach the gateway through the loopback proxy: they get the
 * proxy URL and this window's local secret, never the gateway bearer. Claude Code reads the
 * Anthropic variables; Codex reads the secret from PROXY_KEY_ENV (its profile's `env_key`).
 */
import type * as vscode from 'vscode';
import type { LoopbackProxy } from './loopback-proxy';
import { proxyEnv } from '../settings/sanitize';
import { PROXY_KEY_ENV } from '../codex/setup-codex';

export function applyTerminalEnv(env: vscode.GlobalEnvironmentVariableCollection, proxy: LoopbackProxy): void {
  // Per window: a stored value from another window would carry a dead port and secret.
  env.persistent = false;
  env.description = 'Routes Claude Code and Codex in this terminal through your Tollgate gateway.';
  for (const [k, v] of Object.entries(proxyEnv(proxy.url, proxy.secret))) env.replace(k, v);
  env.replace(PROXY_KEY_ENV, proxy.secret);
}

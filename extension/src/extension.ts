/**
 * Activation entry. Kept tiny on purpose: it registers commands, the sidebar view and the
 * authentication provider as thin forwarders, and loads the real composition root (core.ts,
 * with zod and every service) on the next tick. VS Code waits for nothing heavy, so activation
 * stays within a few milliseconds; a command run before the core is loaded simply awaits it.
 */
import * as vscode from 'vscode';
import { performance } from 'node:perf_hooks';
import type { Core } from './core';

export interface TollgateApi {
  /** Time spent inside activate(), in ms. */
  activationMs: number;
  /** Resolves once the services are up (proxy listening, stored session restored). */
  ready: Promise<void>;
  /** activate() start to services up, in ms (undefined until then). */
  readyMs(): number | undefined;
  proxyUrl(): string | undefined;
}

const COMMANDS = ['signIn', 'signOut', 'showSpend', 'refreshPolicy', 'openGatewayStatus', 'showMenu', 'switchGateway', 'setUpCodex'] as const;

export function activate(context: vscode.ExtensionContext): TollgateApi {
  const t0 = performance.now();
  let loaded: Core | undefined;
  let corePromise: Promise<Core> | undefined;
  const core = () => (corePromise ??= import('./core').then((m) => (loaded = m.startCore(context))));

  const sessionsChanged = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
  const auth: vscode.AuthenticationProvider = {
    onDidChangeSessions: sessionsChanged.event,
    getSessions: (scopes, options) => core().then((c) => c.auth.getSessions()),
    createSession: () => core().then((c) => c.auth.createSession()),
    removeSession: () => core().then((c) => c.auth.removeSession()),
  };

  context.subscriptions.push(
    sessionsChanged,
    ...COMMANDS.map((name) => vscode.commands.registerCommand(`tollgate.${name}`, (arg?: unknown) => core().then((c) => c.commands[name](arg)))),
    vscode.window.registerWebviewViewProvider('tollgate.sidebar', {
      resolveWebviewView: (view) =>
        core().then(
          (c) => c.sidebar.resolveWebviewView(view),
          (err) => console.error('tollgate: sidebar failed to load', err),
        ),
    }),
    vscode.authentication.registerAuthenticationProvider('tollgate', 'Tollgate', auth, { supportsMultipleAccounts: false }),
  );

  let readyMs: number | undefined;
  const ready = new Promise<void>((r) => setImmediate(r))
    .then(core)
    .then(async (c) => {
      context.subscriptions.push(c.auth.onDidChangeSessions((e) => sessionsChanged.fire(e)));
      await c.ready;
      readyMs = performance.now() - t0;
      c.log.info(`activated in ${activationMs.toFixed(1)} ms; services ready ${readyMs.toFixed(0)} ms after activation started`);
    });
  const activationMs = performance.now() - t0;
  return { activationMs, ready, readyMs: () => readyMs, proxyUrl: () => loaded?.proxyUrl() };
}

export function deactivate(): void {}

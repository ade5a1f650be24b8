/**
 * The composition root, loaded right after activation (see extension.ts): builds the services
 * and wires them to the editor. Each wiring is a one-liner into its feature folder.
 */
import * as vscode from 'vscode';
import { SessionManager } from './auth/session-manager';
import { normaliseBaseUrl } from './auth/device-flow';
import { runSignIn } from './auth/sign-in-ui';
import { signInErrorMessage } from './platform/messages';
import { TollgateAuthProvider } from './auth/provider';
import { startLoopbackProxy, type LoopbackProxy } from './proxy/loopback-proxy';
import { applyTerminalEnv } from './proxy/terminal-env';
import { WorkspaceSettings } from './settings/workspace';
import { createStatusBar } from './status/status-bar';
import { SidebarView, SIDEBAR_VIEW_ID } from './sidebar/sidebar-view';
import { Controller } from './platform/controller';
import { TollgateState } from './platform/state';
import { createLog } from './platform/log';
import { showGatewayStatus } from './platform/gateway-status';
import { workspaceTrustGate } from './settings/trust-vscode';
import { askGatewayUrl, GatewaySwitch } from './settings/gateway-switch';
import { showStatusMenu } from './status/status-menu';
import { requestSignInBadge } from './auth/accounts-badge';
import { setUpCodex } from './codex/setup-codex-command';

export interface Core {
  commands: Record<'signIn' | 'signOut' | 'showSpend' | 'refreshPolicy' | 'openGatewayStatus' | 'showMenu' | 'switchGateway' | 'setUpCodex', (arg?: unknown) => Promise<unknown>>;
  auth: TollgateAuthProvider;
  sidebar: SidebarView;
  log: ReturnType<typeof createLog>;
  proxyUrl(): string | undefined;
  ready: Promise<void>;
}

/** The proxy's last port: reused when free, so a Codex profile written by "Set Up Codex" outlives a restart. */
const PROXY_PORT_KEY = 'tollgate.proxyPort';

const gatewayUrl = () => normaliseBaseUrl(vscode.workspace.getConfiguration('tollgate').get<string>('gatewayUrl') ?? '');

export function startCore(context: vscode.ExtensionContext): Core {
  const log = createLog(context);
  const state = new TollgateState(gatewayUrl());
  const sessions = new SessionManager(context.secrets, { fetch: (...a) => fetch(...a), now: () => Date.now(), timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) } });
  let proxy: LoopbackProxy | undefined;
  const trust = workspaceTrustGate();
  const workspace = new WorkspaceSettings(context, () => [sessions.current?.accessToken, sessions.current?.refreshToken], trust);
  const controller = new Controller(state, sessions, workspace, log, trust);
  const sidebar = new SidebarView(context.extensionUri, state, log);

  const signIn = async (opts: { noPrompt?: boolean } = {}) => {
    if (!state.gatewayUrl) {
      // Asked here, like the GitHub Enterprise sign-in: no trip to a settings page first.
      const url = await askGatewayUrl('', 'Tollgate: Sign In');
      if (!url) return undefined;
      await GatewaySwitch.saveSetting(url);
      state.gatewayUrl = url;
    }
    try {
      return await runSignIn(sessions, state.gatewayUrl, log, {
        ...opts,
        onPending: (p) => {
          state.signingIn = p;
          state.changed();
        },
      });
    } catch (err) {
      log.error('sign-in failed', err);
      void vscode.window.showErrorMessage(signInErrorMessage(err, state.gatewayUrl));
      return undefined;
    }
  };
  let removal: Promise<void> = Promise.resolve();
  const signOut = async () => {
    const { revoked } = await sessions.signOut();
    await removal; // the command finishes once the workspace is back to the developer's own settings
    void vscode.window.showInformationMessage(`Signed out of Tollgate${revoked ? ' (session revoked at the gateway)' : ''}.`);
  };

  // The URL is application-scoped (a workspace cannot set it), so only the developer or an
  // administrator's policy changes it: the session there is set aside, never revoked, and the
  // change is said out loud.
  const gatewaySwitch = new GatewaySwitch(state, sessions, () => (state.changed(), void controller.refreshHealth()), () => signIn());

  const auth = new TollgateAuthProvider(sessions, signIn);
  const commands: Core['commands'] = {
    // Returns nothing: other extensions may run commands, and must get tokens via getSession.
    signIn: async (arg) => void (await signIn({ noPrompt: (arg as { noPrompt?: unknown } | undefined)?.noPrompt === true })),
    signOut,
    showSpend: () => Promise.resolve(vscode.commands.executeCommand(`${SIDEBAR_VIEW_ID}.focus`)),
    refreshPolicy: () => controller.refreshAll().then(() => controller.refreshPolicy(true)),
    openGatewayStatus: () => showGatewayStatus(controller, state),
    showMenu: () => showStatusMenu(state),
    switchGateway: () => gatewaySwitch.choose(),
    setUpCodex: (arg) => setUpCodex({ proxyUrl: () => proxy?.url, gatewayUrl: () => state.gatewayUrl, accessToken: () => sessions.accessToken(), log }, arg),
  };

  context.subscriptions.push(
    sessions,
    controller,
    sidebar,
    auth,
    createStatusBar(state),
    requestSignInBadge(state),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('tollgate.gatewayUrl')) return;
      void gatewaySwitch.onSettingChanged(gatewayUrl());
    }),
    sessions.onDidChange((c) => {
      state.session = sessions.current;
      state.changed();
      if (c.kind === 'signedIn') void controller.refreshAll();
      if (c.kind === 'signedOut') {
        removal = controller.removeApplied().then(
          () => state.changed(),
          (err) => log.error('removing managed settings failed', err),
        );
        if (c.reason === 'expired') {
          void vscode.window.showWarningMessage('Your Tollgate session ended (expired or revoked at the gateway). Sign in again to continue.', 'Sign In').then((x) => x && vscode.commands.executeCommand('tollgate.signIn'));
        }
      }
    }),
    { dispose: () => void proxy?.close() },
  );

  const ready = (async () => {
    proxy = await startLoopbackProxy({
      target: async () => {
        const token = await sessions.accessToken();
        return token ? { baseUrl: state.gatewayUrl, token } : undefined;
      },
      onResponseHeaders: (h) => controller.onProxyHeaders(h),
      onRejected: (t) => void sessions.onRejected(t),
      onRequestDone: (r) => controller.onProxyDone(r),
    }, { preferredPort: context.globalState.get<number>(PROXY_PORT_KEY) });
    await context.globalState.update(PROXY_PORT_KEY, proxy.port);
    state.proxyUrl = proxy.url;
    const started = proxy;
    // Terminals of an untrusted folder get no proxy env (a repository's scripts could read the
    // secret); trust granted later turns it on and writes what was held back.
    context.environmentVariableCollection.persistent = false;
    context.environmentVariableCollection.clear();
    context.subscriptions.push(
      trust.whenTrusted(() => {
        applyTerminalEnv(context.environmentVariableCollection, started);
        if (state.session) void controller.onTrustGranted();
      }),
    );
    if (!trust.trusted) log.info('workspace not trusted: no managed settings and no terminal proxy environment until it is');
    log.info(`loopback proxy for agents on ${proxy.url}`);
    state.session = await sessions.restore(state.gatewayUrl);
    controller.start();
    state.changed();
    await controller.refreshAll();
  })().catch((err) => log.error('startup failed', err));

  return { commands, auth, sidebar, log, proxyUrl: () => proxy?.url, ready: ready.then(() => undefined) };
}

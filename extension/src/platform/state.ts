/**
 * Everything the status bar and sidebar show, in one place, with a change event. Pure: no
 * `vscode`. The sidebar snapshot is validated against the webview contract before it is sent.
 */
import type { UsageResponse } from '../../../gateway-server/src/protocol/usage';
import type { BlockView, PolicyRule, SidebarState } from '../../../gateway-server/src/protocol/webview';
import { applyBlock } from '../status/block';
import type { StoredSession } from '../auth/session';
import type { Me } from './gateway-client';
import { meModels, mePolicyName } from './gateway-client';
import { RecentRequests } from './recent';
import { applySignal, capsFromUsage, offline, SIGNED_OUT, statusFromUsage, type HeaderSignal, type StatusView } from '../status/format';

export class TollgateState {
  session: StoredSession | undefined;
  usage: UsageResponse | null | undefined;
  me: Me | null | undefined;
  health: SidebarState['health'] = { reachable: false, ready: null, checkedAt: null, detail: 'Not checked yet.' };
  offlineSince: Date | undefined;
  signal: HeaderSignal | undefined;
  proxyUrl: string | null = null;
  managed: Omit<SidebarState['managedSettings'], 'rules'> = { checksum: null, appliedKeys: [] };
  /** The policy's rules with their values (Claude Code settings, then VS Code settings). */
  claudeRules: PolicyRule[] = [];
  vscodeRules: PolicyRule[] = [];
  /** A device-flow sign-in waiting for the browser leg. */
  signingIn: { userCode: string; verificationUri: string } | undefined;
  /** The last refused agent request, until a request succeeds, the cap resets or sign-out. */
  block: BlockView | undefined;
  readonly recent = new RecentRequests();
  private readonly listeners = new Set<() => void>();

  constructor(public gatewayUrl: string) {}

  onDidChange(fn: () => void): { dispose(): void } {
    this.listeners.add(fn);
    return { dispose: () => this.listeners.delete(fn) };
  }

  changed(): void {
    for (const fn of this.listeners) fn();
  }

  status(now = new Date()): StatusView {
    if (!this.session && this.signingIn) return { text: 'Signing in…', severity: 'signedOut', tooltip: `Tollgate: confirm the code ${this.signingIn.userCode} on the page that opened in your browser.` };
    if (!this.session) return SIGNED_OUT;
    if (this.offlineSince) return offline(this.gatewayUrl, this.offlineSince);
    if (this.usage === undefined) return { text: '…', severity: 'ok', tooltip: 'Tollgate: loading your budget…' };
    const base: StatusView = this.usage === null ? { text: 'no usage data', severity: 'ok', tooltip: 'This gateway does not report spend (/api/oauth/usage is not offered).' } : statusFromUsage(this.usage, now);
    return applyBlock(this.signal ? applySignal(base, this.signal, now) : base, this.block, now);
  }

  sidebar(): SidebarState {
    const s = this.session;
    const me = this.me ?? null;
    const eu = this.usage?.extra_usage;
    return {
      gatewayUrl: this.gatewayUrl,
      signedIn: !!s,
      account: s
        ? { id: s.account.id, email: me?.email ?? s.account.email, name: me?.name ?? s.account.name, groups: me?.groups ?? s.account.groups }
        : null,
      policy: { name: me ? mePolicyName(me) : null, models: me ? meModels(me) : [], available: !!me },
      caps: this.usage ? capsFromUsage(this.usage) : [],
      spend: eu ? { usedCents: eu.daily?.used_credits ?? eu.used_credits, currency: eu.currency } : null,
      status: this.status(),
      recent: this.recent.list(),
      health: this.health,
      proxy: { url: this.proxyUrl },
      managedSettings: { ...this.managed, rules: [...this.claudeRules, ...this.vscodeRules] },
      signIn: this.session ? null : (this.signingIn ?? null),
      block: this.block && (!this.block.until || new Date(this.block.until) > new Date()) ? this.block : null,
    };
  }
}

/**
 * Keeps the state fresh: usage every minute and shortly after each proxied request, policy
 * (`/managed/settings` with If-None-Match, `/v1/me`) every 10 minutes and on demand, health
 * every minute. Applies managed settings on change and removes them at sign-out.
 */
import * as vscode from 'vscode';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayClient, GatewayError } from './gateway-client';
import type { TollgateState } from './state';
import type { Log } from './log';
import type { SessionManager } from '../auth/session-manager';
import type { WorkspaceSettings } from '../settings/workspace';
import type { ProxiedRequest } from '../proxy/loopback-proxy';
import { signalFromHeaders } from '../status/format';
import { claudeRules, policyAnnouncement, vscodeRules } from '../settings/policy-rules';
import { sanitizeManaged } from '../settings/sanitize';
import { blockFromReply, blockMessage, NoticeLimiter } from '../status/block';
import { untrustedNotice, type TrustGate } from '../settings/trust';

export class Controller implements vscode.Disposable {
  readonly client: GatewayClient;
  private etag: string | null = null;
  private timers: NodeJS.Timeout[] = [];
  private usageSoon: NodeJS.Timeout | undefined;
  private toldUntrusted = false;
  private readonly notices = new NoticeLimiter();

  constructor(
    private readonly state: TollgateState,
    private readonly sessions: SessionManager,
    private readonly workspace: WorkspaceSettings,
    private readonly log: Log,
    private readonly trust: TrustGate,
  ) {
    this.client = new GatewayClient({
      fetch: (...a) => fetch(...a),
      baseUrl: () => state.gatewayUrl,
      token: () => sessions.accessToken(),
      onRejected: (t) => void sessions.onRejected(t),
    });
  }

  start(): void {
    this.timers.push(setInterval(() => void this.refreshUsage(), 60_000));
    this.timers.push(setInterval(() => void this.refreshPolicy(false), 10 * 60_000));
    this.timers.push(setInterval(() => void this.refreshHealth(), 60_000));
    for (const t of this.timers) t.unref?.();
  }

  async refreshAll(): Promise<void> {
    await Promise.all([this.refreshHealth(), this.refreshUsage(), this.refreshPolicy(false)]);
  }

  private noteError(err: unknown): void {
    if (err instanceof GatewayError && err.code === 'UNREACHABLE') {
      this.state.offlineSince ??= new Date();
    } else if (err instanceof GatewayError && (err.code === 'REJECTED' || err.code === 'UNAUTHORIZED')) {
      // Sign-out (if any) arrives through the session manager's event.
    } else this.log.warn(`gateway: ${(err as Error).message}`);
  }

  async refreshHealth(): Promise<void> {
    const h = await this.client.health();
    this.state.health = { ...h, checkedAt: new Date().toISOString() };
    if (h.reachable) this.state.offlineSince = undefined;
    else this.state.offlineSince ??= new Date();
    this.state.changed();
  }

  async refreshUsage(): Promise<void> {
    if (!this.state.session) return;
    try {
      this.state.usage = await this.client.usage();
      this.state.offlineSince = undefined;
      this.state.signal = undefined; // the endpoint now reflects what the headers said
      if (this.state.recent.pendingCosts() > 0) {
        const mine = await this.client.myRequests(50);
        const costs = new Map<string, number>();
        for (const r of mine?.data ?? []) if (r.request_id && r.cost_micros !== null) costs.set(r.request_id, r.cost_micros);
        this.state.recent.setCosts(costs);
      }
    } catch (err) {
      this.noteError(err);
    }
    this.state.changed();
  }

  /** Poll policy; `announce` shows a summary even when nothing changed (Refresh Policy). */
  async refreshPolicy(announce: boolean): Promise<void> {
    if (!this.state.session) return;
    try {
      const [settings, me] = await Promise.all([this.client.managedSettings(this.etag), this.client.me()]);
      this.state.me = me;
      this.state.offlineSince = undefined;
      const summary: string[] = [];
      if (settings.kind === 'changed' || (settings.kind === 'none' && this.etag !== 'none') || !this.state.managed.checksum) {
        const managed = settings.kind === 'changed' ? settings.envelope.settings : {};
        const checksum = settings.kind === 'changed' ? settings.envelope.checksum : null;
        const { keys, dropped } = await this.workspace.applyClaude(managed, checksum);
        this.etag = settings.kind === 'changed' ? settings.etag : settings.kind === 'none' ? 'none' : this.etag;
        this.state.managed = { checksum: checksum ?? 'none', appliedKeys: keys };
        this.state.claudeRules = claudeRules(sanitizeManaged(managed).settings);
        // A gateway without policies has nothing to announce: no "applied your policy".
        if (this.trust.trusted && keys.length) summary.push(`Claude Code settings: ${keys.length} key(s) managed in .claude/settings.local.json`);
        if (dropped.length) this.log.warn(`managed settings: not written to the workspace (credentials): ${dropped.join(', ')}`);
      }
      this.state.vscodeRules = vscodeRules(me?.vscode_settings);
      if (me?.vscode_settings) {
        const { changed, skipped } = await this.workspace.applyVscode(me.vscode_settings);
        if (changed.length) summary.push(`VS Code settings changed: ${changed.join(', ')}`);
        if (skipped.length) this.log.warn(`vscode settings not applied: ${skipped.join(', ')}`);
      }
      this.tellUntrusted();
      const text = policyAnnouncement(summary, announce, this.state.claudeRules.length + this.state.vscodeRules.length > 0);
      if (text) {
        this.log.info(text);
        void vscode.window.showInformationMessage(text);
      }
    } catch (err) {
      this.noteError(err);
      if (announce) void vscode.window.showWarningMessage(`Tollgate could not refresh the policy. ${(err as Error).message}`);
    }
    this.state.changed();
  }

  /** Once per window: say why an untrusted folder gets no managed settings, and how to change it. */
  private tellUntrusted(): void {
    const notice = untrustedNotice(this.trust.withheld());
    if (!notice || this.toldUntrusted) return;
    this.toldUntrusted = true;
    this.log.info(notice);
    void vscode.window.showInformationMessage(notice, 'Manage Workspace Trust').then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
  }

  /** Trust granted: what was withheld is written now (the policy is fetched afresh). */
  async onTrustGranted(): Promise<void> {
    this.etag = null;
    this.state.managed = { checksum: null, appliedKeys: [] };
    await this.refreshPolicy(false);
  }

  /** Sign-out: remove exactly what was applied, in files and workspace settings. */
  async removeApplied(): Promise<void> {
    const removed = await this.workspace.removeClaude();
    const restored = await this.workspace.removeVscode();
    this.etag = null;
    this.state.managed = { checksum: null, appliedKeys: [] };
    this.state.claudeRules = [];
    this.state.vscodeRules = [];
    this.state.me = undefined;
    this.state.usage = undefined;
    this.state.signal = undefined;
    this.state.block = undefined;
    if (removed || restored.length) this.log.info(`sign-out: removed ${removed} managed setting(s), restored ${restored.length} VS Code setting(s)`);
  }

  onProxyHeaders(headers: IncomingHttpHeaders): void {
    const signal = signalFromHeaders(headers);
    if (signal) {
      this.state.signal = signal;
      this.state.changed();
    }
  }

  onProxyDone(r: ProxiedRequest): void {
    if (!r.path.startsWith('/v1/messages')) return;
    this.noteBlock(r);
    this.state.recent.add({
      at: r.at.toISOString(),
      model: r.model,
      status: r.status,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      requestId: r.requestId ?? null,
      costMicros: null,
      durationMs: r.durationMs,
    });
    this.state.changed();
    // Spend settles when the reply ends; read the new total a moment later.
    clearTimeout(this.usageSoon);
    this.usageSoon = setTimeout(() => void this.refreshUsage(), 750);
  }

  /** A refusal becomes the sidebar's block and one (rate-limited) notification; a success clears it. */
  private noteBlock(r: ProxiedRequest): void {
    if (r.status < 400) {
      this.state.block = undefined;
      return;
    }
    const block = blockFromReply(r.status, r.error, r.at, this.state.signal?.status === 'rejected' ? this.state.signal.resetAt : null);
    if (!block) return;
    this.state.block = block;
    if (!this.notices.shouldNotify(block, Date.now())) return;
    const text = blockMessage(block);
    this.log.warn(text);
    void vscode.window.showWarningMessage(text, 'Open Sidebar', 'Copy Message').then((c) => {
      if (c === 'Open Sidebar') void vscode.commands.executeCommand('tollgate.showSpend');
      if (c === 'Copy Message') void vscode.env.clipboard.writeText(`${text} (HTTP ${block.status} at ${block.at})`);
    });
  }

  dispose(): void {
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.usageSoon);
  }
}

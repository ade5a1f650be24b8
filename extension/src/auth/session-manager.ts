/**
 * Owns the session lifecycle without `vscode`: storage (SecretStorage in the editor), silent
 * refresh before expiry (single flight), and the signed-out transition on `invalid_grant` or a
 * 401 with `x-should-retry: false`. The editor adapters listen to `onDidChange`.
 */
import { createSignInClient, refreshToken, revokeTokens, SignInError, type DeviceFlowDeps } from './device-flow';
import { refreshDelay, REFRESH_MARGIN_MS, sessionFromTokens, storedSessionSchema, type StoredSession } from './session';
import type { TokenResponse } from '../../../gateway-server/src/protocol/oauth';

export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type SessionChange = { kind: 'signedIn' | 'refreshed' | 'signedOut'; session?: StoredSession; reason?: 'user' | 'expired' | 'switched' };

export const SECRET_KEY = 'tollgate.session';
/** Sessions for gateways other than the configured one, by gateway URL: kept, never dropped. */
export const ASIDE_KEY = 'tollgate.sessionsAside';

type Aside = Record<string, StoredSession>;

export class SessionManager {
  private session: StoredSession | undefined;
  private refreshing: Promise<StoredSession | undefined> | undefined;
  private timer: unknown;
  private readonly listeners = new Set<(c: SessionChange) => void>();

  constructor(
    private readonly store: SecretStore,
    private readonly deps: DeviceFlowDeps & { timers?: Timers } = { fetch: (...a) => fetch(...a), now: () => Date.now() },
  ) {}

  onDidChange(fn: (c: SessionChange) => void): { dispose(): void } {
    this.listeners.add(fn);
    return { dispose: () => this.listeners.delete(fn) };
  }

  private emit(change: SessionChange): void {
    for (const fn of this.listeners) fn(change);
  }

  get current(): StoredSession | undefined {
    return this.session;
  }

  private async read(key: string): Promise<unknown> {
    const raw = await this.store.get(key);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      return undefined;
    }
  }

  private async readAside(): Promise<Aside> {
    const raw = await this.read(ASIDE_KEY);
    const out: Aside = {};
    if (typeof raw !== 'object' || raw === null) return out;
    for (const [url, v] of Object.entries(raw)) {
      const r = storedSessionSchema.safeParse(v);
      if (r.success && r.data.gatewayUrl === url) out[url] = r.data;
    }
    return out;
  }

  private async writeAside(aside: Aside): Promise<void> {
    if (Object.keys(aside).length) await this.store.store(ASIDE_KEY, JSON.stringify(aside));
    else await this.store.delete(ASIDE_KEY);
  }

  /**
   * Loads the stored session for this gateway and schedules its refresh. A stored session for
   * another gateway is set aside, not dropped: the URL may have changed by mistake (or been
   * pointed elsewhere), and switching back must find the developer still signed in there.
   */
  async restore(gatewayUrl: string): Promise<StoredSession | undefined> {
    const r = storedSessionSchema.safeParse(await this.read(SECRET_KEY));
    const stored = r.success ? r.data : undefined;
    if (stored && stored.gatewayUrl === gatewayUrl) {
      this.session = stored;
      this.schedule();
      return stored;
    }
    const aside = await this.readAside();
    if (stored) aside[stored.gatewayUrl] = stored;
    const mine = aside[gatewayUrl];
    delete aside[gatewayUrl];
    await this.writeAside(aside);
    if (!mine) {
      await this.store.delete(SECRET_KEY);
      return undefined;
    }
    await this.persist(mine);
    return mine;
  }

  /**
   * The configured gateway changed while running: the current session (if for another gateway)
   * is set aside without revoking it, and one kept for the new gateway comes back.
   */
  async switchGateway(gatewayUrl: string): Promise<StoredSession | undefined> {
    const s = this.session;
    if (s?.gatewayUrl === gatewayUrl) return s;
    if (s) {
      this.session = undefined;
      if (this.timer !== undefined) this.deps.timers?.clearTimeout(this.timer);
      this.timer = undefined;
      this.emit({ kind: 'signedOut', session: s, reason: 'switched' });
    }
    const restored = await this.restore(gatewayUrl);
    if (restored) this.emit({ kind: 'signedIn', session: restored });
    return restored;
  }

  async adopt(gatewayUrl: string, tokens: TokenResponse): Promise<StoredSession> {
    const session = sessionFromTokens(gatewayUrl, tokens, this.deps.now());
    await this.persist(session);
    this.emit({ kind: 'signedIn', session });
    return session;
  }

  private async persist(session: StoredSession): Promise<void> {
    this.session = session;
    await this.store.store(SECRET_KEY, JSON.stringify(session));
    this.schedule();
  }

  private schedule(): void {
    const timers = this.deps.timers;
    if (!timers || !this.session) return;
    if (this.timer !== undefined) timers.clearTimeout(this.timer);
    if (!this.session.refreshToken) return;
    this.timer = timers.setTimeout(() => {
      this.timer = undefined;
      void this.refresh().catch(() => {});
    }, refreshDelay(this.session.expiresAt, this.deps.now()));
  }

  /** A bearer good for at least REFRESH_MARGIN_MS, refreshing first if needed; undefined if signed out. */
  async accessToken(): Promise<string | undefined> {
    const s = this.session;
    if (!s) return undefined;
    if (s.expiresAt - this.deps.now() > REFRESH_MARGIN_MS) return s.accessToken;
    if (!s.refreshToken) {
      if (s.expiresAt > this.deps.now()) return s.accessToken;
      await this.signOutLocally('expired');
      return undefined;
    }
    return (await this.refresh())?.accessToken;
  }

  /** Single flight: concurrent callers share one refresh request. */
  refresh(): Promise<StoredSession | undefined> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<StoredSession | undefined> {
    const s = this.session;
    if (!s?.refreshToken) return s;
    try {
      const tokens = await refreshToken(createSignInClient(s.gatewayUrl, this.deps), s.refreshToken);
      if (this.session !== s) return this.session; // signed out meanwhile
      const next = sessionFromTokens(s.gatewayUrl, tokens, this.deps.now(), s);
      await this.persist(next);
      this.emit({ kind: 'refreshed', session: next });
      return next;
    } catch (err) {
      if (err instanceof SignInError && err.code === 'INVALID_GRANT') {
        await this.signOutLocally('expired');
        return undefined;
      }
      // Transient: keep the refresh token and retry in a minute; the current bearer may still work.
      const timers = this.deps.timers;
      if (timers && this.session === s) {
        if (this.timer !== undefined) timers.clearTimeout(this.timer);
        this.timer = timers.setTimeout(() => void this.refresh().catch(() => {}), 60_000);
      }
      return s.expiresAt > this.deps.now() ? s : undefined;
    }
  }

  /** The gateway said this bearer is dead for good (401 + `x-should-retry: false`). */
  async onRejected(token: string): Promise<void> {
    if (this.session?.accessToken !== token) return;
    if (this.session.refreshToken) {
      const next = await this.refresh();
      if (next && next.accessToken !== token) return;
    }
    await this.signOutLocally('expired');
  }

  private async signOutLocally(reason: 'user' | 'expired'): Promise<StoredSession | undefined> {
    const s = this.session;
    this.session = undefined;
    if (this.timer !== undefined) this.deps.timers?.clearTimeout(this.timer);
    this.timer = undefined;
    await this.store.delete(SECRET_KEY);
    if (s) this.emit({ kind: 'signedOut', session: s, reason });
    return s;
  }

  /** Sign-out: forget locally first (so nothing keeps using it), then revoke when advertised. */
  async signOut(): Promise<{ revoked: boolean }> {
    const s = await this.signOutLocally('user');
    if (!s) return { revoked: false };
    return { revoked: await revokeTokens(createSignInClient(s.gatewayUrl, this.deps), { access: s.accessToken, ...(s.refreshToken ? { refresh: s.refreshToken } : {}) }) };
  }

  dispose(): void {
    if (this.timer !== undefined) this.deps.timers?.clearTimeout(this.timer);
    this.listeners.clear();
  }
}

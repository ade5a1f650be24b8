/**
 * Workspace Trust, without `vscode`: a folder the developer has not trusted may be a cloned
 * repository written by anyone, so nothing is written into it (managed settings, the proxy
 * secret) and its terminals get no proxy environment until trust is granted. The editor adapter
 * (trust-vscode.ts) feeds `workspace.isTrusted` and `onDidGrantWorkspaceTrust`.
 */

export interface TrustSource {
  readonly isTrusted: boolean;
  /** VS Code only ever grants trust within a window's life (revoking it reloads the window). */
  onDidGrant(listener: () => void): { dispose(): void };
}

export type Withheld = 'managed settings' | 'VS Code settings' | 'terminal proxy environment';

export class TrustGate {
  private readonly held = new Set<Withheld>();

  constructor(private readonly source: TrustSource) {}

  get trusted(): boolean {
    return this.source.isTrusted;
  }

  /** Runs `write` in a trusted workspace; otherwise records what was held back and returns `otherwise`. */
  async write<T>(what: Withheld, write: () => Promise<T>, otherwise: T): Promise<T> {
    if (!this.trusted) {
      this.held.add(what);
      return otherwise;
    }
    return write();
  }

  /** What an untrusted workspace is missing, for the sidebar and the log. */
  withheld(): Withheld[] {
    return [...this.held];
  }

  /** `fn` runs once trust is granted (at once if the workspace is already trusted). */
  whenTrusted(fn: () => void): { dispose(): void } {
    if (this.trusted) {
      fn();
      return { dispose: () => {} };
    }
    const sub = this.source.onDidGrant(() => {
      this.held.clear();
      fn();
    });
    return sub;
  }
}

/** The sentence shown while trust withholds something (undefined when nothing is withheld). */
export function untrustedNotice(held: readonly Withheld[]): string | undefined {
  if (!held.length) return undefined;
  return `This folder is not trusted, so Tollgate did not write ${held.join(' or ')} into it. Trust the folder (Workspaces: Manage Workspace Trust) to route Claude Code here through your gateway.`;
}

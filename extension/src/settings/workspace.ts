/**
 * Writes managed settings into the workspace: `.claude/settings.local.json` (merged, with a
 * sidecar record `.claude/tollgate-applied.json` of what we added) and the policy's `vscode:`
 * block into workspace settings (its record in workspaceState). Removal undoes exactly those.
 * Nothing is read or written in a workspace the developer has not trusted (TrustGate).
 */
import * as vscode from 'vscode';
import { sanitizeManaged } from './sanitize';
import { applyVscodeBlock, removeVscodeBlock, type VscodeSettingChange } from './vscode-block';
import { writeClaudeSettings, removeClaudeSettings } from './claude-file';
import { removeEmptyVscodeFiles, vscodeFilesBefore, type VscodeFilesBefore } from './leftovers';
import type { TrustGate } from './trust';

const VSCODE_RECORD = 'tollgate.vscodeApplied';
const VSCODE_FILES = 'tollgate.vscodeFilesBefore';

function folders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

const access = {
  get: (key: string) => vscode.workspace.getConfiguration().inspect(key)?.workspaceValue,
  set: (key: string, value: unknown) => Promise.resolve(vscode.workspace.getConfiguration().update(key, value, vscode.ConfigurationTarget.Workspace)),
};

export class WorkspaceSettings {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly secrets: () => (string | undefined)[],
    private readonly trust: TrustGate,
  ) {}

  /** Merge the policy (sanitised here); returns the key paths now ours. No proxy env: see claude-file.ts. */
  applyClaude(managed: Record<string, unknown>, checksum: string | null): Promise<{ keys: string[]; dropped: string[] }> {
    return this.trust.write('managed settings', () => this.writeClaude(managed, checksum), { keys: [], dropped: [] });
  }

  private async writeClaude(managed: Record<string, unknown>, checksum: string | null): Promise<{ keys: string[]; dropped: string[] }> {
    const { settings, dropped } = sanitizeManaged(managed);
    let keys: string[] = [];
    for (const root of folders()) keys = await writeClaudeSettings(root, settings, checksum, this.secrets());
    return { keys, dropped };
  }

  removeClaude(): Promise<number> {
    // Removal touches the folder too: in an untrusted one nothing was written, so nothing is read.
    return this.trust.trusted ? this.unwriteClaude() : Promise.resolve(0);
  }

  private async unwriteClaude(): Promise<number> {
    let removed = 0;
    for (const root of folders()) removed += await removeClaudeSettings(root);
    return removed;
  }

  applyVscode(block: Record<string, unknown>): Promise<{ changed: string[]; skipped: string[] }> {
    return this.trust.write('VS Code settings', () => this.writeVscode(block), { changed: [], skipped: Object.keys(block) });
  }

  private async writeVscode(block: Record<string, unknown>): Promise<{ changed: string[]; skipped: string[] }> {
    if (!vscode.workspace.workspaceFolders?.length) return { changed: [], skipped: Object.keys(block) };
    const previous = this.context.workspaceState.get<VscodeSettingChange[]>(VSCODE_RECORD, []);
    // Before the first change: remember whether .vscode/settings.json existed, so removal can
    // take away a file (and folder) that only ever held the policy's keys.
    if (!previous.length && !this.context.workspaceState.get(VSCODE_FILES)) await this.context.workspaceState.update(VSCODE_FILES, await vscodeFilesBefore(folders()));
    const { applied, changed, skipped } = await applyVscodeBlock(block, previous, access);
    await this.context.workspaceState.update(VSCODE_RECORD, applied);
    return { changed, skipped };
  }

  async removeVscode(): Promise<string[]> {
    if (!this.trust.trusted) return [];
    const previous = this.context.workspaceState.get<VscodeSettingChange[]>(VSCODE_RECORD, []);
    const restored = await removeVscodeBlock(previous, access);
    await this.context.workspaceState.update(VSCODE_RECORD, undefined);
    const before = this.context.workspaceState.get<VscodeFilesBefore[]>(VSCODE_FILES);
    if (before) await removeEmptyVscodeFiles(before);
    await this.context.workspaceState.update(VSCODE_FILES, undefined);
    return restored;
  }
}

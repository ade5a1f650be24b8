/**
 * Writes managed settings into the workspace: `.claude/settings.local.json` (merged, with a
 * sidecar record `.claude/tollgate-applied.json` of what we added) and the policy's `vscode:`
 * block into workspace settings (its record in workspaceState). Removal undoes exactly those.
 * Nothing is read or written in a workspace the developer has not trusted (TrustGate).
 */
import * as vscode from 'vscode';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, merge, unmerge, type AppliedRecord, type Json } from './merge';
import { assertNoSecrets, proxyEnv, sanitizeManaged } from './sanitize';
import { applyVscodeBlock, removeVscodeBlock, type VscodeSettingChange } from './vscode-block';
import { writePrivateFile } from './private-file';
import type { TrustGate } from './trust';

type Obj = { [k: string]: Json };
const VSCODE_RECORD = 'tollgate.vscodeApplied';

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

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

  /** Merge the policy (already sanitised) plus the proxy env; returns the key paths now ours. */
  applyClaude(managed: Record<string, unknown>, checksum: string | null, proxy: { url: string; secret: string } | undefined): Promise<{ keys: string[]; dropped: string[] }> {
    return this.trust.write('managed settings', () => this.writeClaude(managed, checksum, proxy), { keys: [], dropped: [] });
  }

  private async writeClaude(managed: Record<string, unknown>, checksum: string | null, proxy: { url: string; secret: string } | undefined): Promise<{ keys: string[]; dropped: string[] }> {
    const { settings, dropped } = sanitizeManaged(managed);
    if (proxy) settings.env = { ...((settings.env as Obj | undefined) ?? {}), ...proxyEnv(proxy.url, proxy.secret) };
    let keys: string[] = [];
    for (const root of folders()) {
      const dir = join(root, '.claude');
      const file = join(dir, 'settings.local.json');
      const recordFile = join(dir, 'tollgate-applied.json');
      const current = (await readJson<Obj>(file)) ?? {};
      const previous = await readJson<AppliedRecord>(recordFile);
      const { settings: next, record } = merge(current, settings as Obj, previous, checksum);
      const text = `${JSON.stringify(next, null, 2)}\n`;
      assertNoSecrets(text, this.secrets());
      await mkdir(dir, { recursive: true });
      await writePrivateFile(file, text);
      await writePrivateFile(recordFile, `${JSON.stringify(record, null, 2)}\n`);
      keys = describe(record);
    }
    return { keys, dropped };
  }

  removeClaude(): Promise<number> {
    // Removal touches the folder too: in an untrusted one nothing was written, so nothing is read.
    return this.trust.trusted ? this.unwriteClaude() : Promise.resolve(0);
  }

  private async unwriteClaude(): Promise<number> {
    let removed = 0;
    for (const root of folders()) {
      const file = join(root, '.claude', 'settings.local.json');
      const recordFile = join(root, '.claude', 'tollgate-applied.json');
      const record = await readJson<AppliedRecord>(recordFile);
      if (!record) continue;
      const current = (await readJson<Obj>(file)) ?? {};
      const next = unmerge(current, record);
      if (Object.keys(next).length === 0) await rm(file, { force: true });
      else await writePrivateFile(file, `${JSON.stringify(next, null, 2)}\n`);
      await rm(recordFile, { force: true });
      removed += record.entries.length;
    }
    return removed;
  }

  applyVscode(block: Record<string, unknown>): Promise<{ changed: string[]; skipped: string[] }> {
    return this.trust.write('VS Code settings', () => this.writeVscode(block), { changed: [], skipped: Object.keys(block) });
  }

  private async writeVscode(block: Record<string, unknown>): Promise<{ changed: string[]; skipped: string[] }> {
    if (!vscode.workspace.workspaceFolders?.length) return { changed: [], skipped: Object.keys(block) };
    const previous = this.context.workspaceState.get<VscodeSettingChange[]>(VSCODE_RECORD, []);
    const { applied, changed, skipped } = await applyVscodeBlock(block, previous, access);
    await this.context.workspaceState.update(VSCODE_RECORD, applied);
    return { changed, skipped };
  }

  async removeVscode(): Promise<string[]> {
    if (!this.trust.trusted) return [];
    const previous = this.context.workspaceState.get<VscodeSettingChange[]>(VSCODE_RECORD, []);
    const restored = await removeVscodeBlock(previous, access);
    await this.context.workspaceState.update(VSCODE_RECORD, undefined);
    return restored;
  }
}

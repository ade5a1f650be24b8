/**
 * Writes managed settings into the workspace: `.claude/settings.local.json` (merged, with a
 * sidecar record `.claude/tollgate-applied.json` of what we added) and the policy's `vscode:`
 * block into workspace settings (its record in workspaceState). Removal undoes exactly those.
 */
import * as vscode from 'vscode';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, merge, unmerge, type AppliedRecord, type Json } from './merge';
import { assertNoSecrets, proxyEnv, sanitizeManaged } from './sanitize';
import { applyVscodeBlock, removeVscodeBlock, type VscodeSettingChange } from './vscode-block';

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
  ) {}

  /** Merge the policy (already sanitised) plus the proxy env; returns the key paths now ours. */
  async applyClaude(managed: Record<string, unknown>, checksum: string | null, proxy: { url: string; secret: string } | undefined): Promise<{ keys: string[]; dropped: string[] }> {
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
      await writeFile(file, text, 'utf8');
      await writeFile(recordFile, `${JSON.stringify(record, null, 2)}\n`, 'utf8');
      keys = describe(record);
    }
    return { keys, dropped };
  }

  async removeClaude(): Promise<number> {
    let removed = 0;
    for (const root of folders()) {
      const file = join(root, '.claude', 'settings.local.json');
      const recordFile = join(root, '.claude', 'tollgate-applied.json');
      const record = await readJson<AppliedRecord>(recordFile);
      if (!record) continue;
      const current = (await readJson<Obj>(file)) ?? {};
      const next = unmerge(current, record);
      if (Object.keys(next).length === 0) await rm(file, { force: true });
      else await writeFile(file, `${JSON.stringify(next, null, 2)}\n`, 'utf8');
      await rm(recordFile, { force: true });
      removed += record.entries.length;
    }
    return removed;
  }

  async applyVscode(block: Record<string, unknown>): Promise<{ changed: string[]; skipped: string[] }> {
    if (!vscode.workspace.workspaceFolders?.length) return { changed: [], skipped: Object.keys(block) };
    const previous = this.context.workspaceState.get<VscodeSettingChange[]>(VSCODE_RECORD, []);
    const { applied, changed, skipped } = await applyVscodeBlock(block, previous, access);
    await this.context.workspaceState.update(VSCODE_RECORD, applied);
    return { changed, skipped };
  }

  async removeVscode(): Promise<string[]> {
    const previous = this.context.workspaceState.get<VscodeSettingChange[]>(VSCODE_RECORD, []);
    const restored = await removeVscodeBlock(previous, access);
    await this.context.workspaceState.update(VSCODE_RECORD, undefined);
    return restored;
  }
}

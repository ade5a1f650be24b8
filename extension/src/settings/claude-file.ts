/**
 * One folder's `.claude/settings.local.json`: merge the policy in (with the sidecar record
 * `.claude/tollgate-applied.json`) and take it out again. Pure Node (no `vscode`).
 *
 * Nothing window-specific is ever written here: the file outlives the window, is shared by every
 * window on the folder and is read by `claude` run outside the editor, so a loopback port or a
 * per-window secret in it would leave that `claude` hanging on a dead port once the window closes
 * (or talking to another window's proxy). Terminals get the proxy through the editor's
 * environment instead. A record from an older version that did write the proxy env is undone on
 * the next write, and what the extension created (the file, the `.claude/` folder) is removed
 * again when nothing of the developer's is left in it.
 */
import { mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, merge, unmerge, type AppliedRecord, type Json } from './merge';
import { assertNoSecrets } from './sanitize';
import { writePrivateFile } from './private-file';

type Obj = { [k: string]: Json };

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

const paths = (root: string) => {
  const dir = join(root, '.claude');
  return { dir, file: join(dir, 'settings.local.json'), recordFile: join(dir, 'tollgate-applied.json') };
};

/** Merge `settings` (already sanitised) into the folder; returns the key paths now managed. */
export async function writeClaudeSettings(root: string, settings: Obj, checksum: string | null, secrets: (string | undefined)[]): Promise<string[]> {
  const { dir, file, recordFile } = paths(root);
  const previous = await readJson<AppliedRecord>(recordFile);
  const current = (await readJson<Obj>(file)) ?? {};
  const { settings: next, record } = merge(current, settings, previous, checksum);
  if (record.entries.length === 0) {
    // Nothing to manage: do not create anything, and undo an earlier merge if there was one.
    await removeClaudeSettings(root);
    return [];
  }
  const createdDir = previous ? previous.createdDir === true : !(await exists(dir));
  const text = `${JSON.stringify(next, null, 2)}\n`;
  assertNoSecrets(text, secrets);
  await mkdir(dir, { recursive: true });
  await writePrivateFile(file, text);
  await writePrivateFile(recordFile, `${JSON.stringify({ ...record, createdDir }, null, 2)}\n`);
  return describe(record);
}

/** Take out exactly what was merged; returns how many entries were removed. */
export async function removeClaudeSettings(root: string): Promise<number> {
  const { dir, file, recordFile } = paths(root);
  const record = await readJson<AppliedRecord>(recordFile);
  if (!record) return 0;
  const current = await readJson<Obj>(file);
  if (current !== undefined) {
    const next = unmerge(current, record);
    if (Object.keys(next).length === 0) await rm(file, { force: true });
    else await writePrivateFile(file, `${JSON.stringify(next, null, 2)}\n`);
  }
  await rm(recordFile, { force: true });
  if (record.createdDir) await rmdir(dir).catch(() => undefined); // only if empty: anything else there is the developer's
  return record.entries.length;
}

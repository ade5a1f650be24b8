/**
 * Sign-out leaves the folder as it was: VS Code's configuration API removes a key but keeps the
 * `.vscode/settings.json` it created (as `{}`) and its folder. What existed before the first
 * policy change is recorded; a file or folder the extension brought into being is removed again
 * when nothing but an empty object (or nothing at all) is left. Pure Node (no `vscode`).
 */
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface VscodeFilesBefore {
  root: string;
  dirExisted: boolean;
  fileExisted: boolean;
}

async function has(path: string, dir: boolean): Promise<boolean> {
  try {
    if (dir) await readdir(path);
    else await readFile(path);
    return true;
  } catch {
    return false;
  }
}

export async function vscodeFilesBefore(roots: string[]): Promise<VscodeFilesBefore[]> {
  const out: VscodeFilesBefore[] = [];
  for (const root of roots) out.push({ root, dirExisted: await has(join(root, '.vscode'), true), fileExisted: await has(join(root, '.vscode', 'settings.json'), false) });
  return out;
}

/** JSONC with no settings left: `{}` with whitespace or comments only. */
export function isEmptySettingsText(text: string): boolean {
  const stripped = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/\s+/g, '');
  return stripped === '' || stripped === '{}';
}

export async function removeEmptyVscodeFiles(before: VscodeFilesBefore[]): Promise<string[]> {
  const removed: string[] = [];
  for (const b of before) {
    const dir = join(b.root, '.vscode');
    const file = join(dir, 'settings.json');
    if (!b.fileExisted) {
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined && isEmptySettingsText(text)) {
        await rm(file, { force: true });
        removed.push(file);
      }
    }
    if (!b.dirExisted && (await rmdir(dir).then(() => true, () => false))) removed.push(dir);
  }
  return removed;
}

/** File helpers the `tollgate` command and the extension share when they edit an agent's configuration. */
import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';

/** The file's text, or '' when it does not exist yet. */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/**
 * Keep the developer's file as it was before the first setup (rewriting TOML drops comments).
 * Returns the backup's path when one was made now.
 */
export async function backupOnce(path: string, text: string): Promise<string | undefined> {
  const backup = `${path}.before-tollgate`;
  if (!text.trim() || existsSync(backup)) return undefined;
  await copyFile(path, backup);
  return backup;
}

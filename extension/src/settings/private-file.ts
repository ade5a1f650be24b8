/**
 * Writes a file only its owner can read (0600): `.claude/settings.local.json` carries this
 * window's proxy secret. The text goes to a new file created 0600 beside the target and is
 * renamed over it, so the secret is never readable through an older file's looser mode, a
 * reader never sees half a file, and a symlink planted at the path is replaced, not followed.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const PRIVATE_MODE = 0o600;

export async function writePrivateFile(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', PRIVATE_MODE);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.chmod(PRIVATE_MODE); // the umask can only remove bits; this states the intent
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

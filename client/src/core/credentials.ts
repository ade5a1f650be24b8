/**
 * The signed-in session of one gateway, kept in a 0600 file (the same shape the VS Code
 * extension keeps in SecretStorage). Writes go to a new file renamed over the old one, so a
 * reader never sees half a file; refreshes run under an exclusive lock file, because the
 * gateway's refresh tokens are single-use at the identity provider: two `tollgate token`
 * processes refreshing at once would each spend the same refresh token and one would lose
 * the session.
 */
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storedSessionSchema, type StoredSession } from '../../../extension/src/auth/session';
import { writePrivateFile } from '../../../extension/src/settings/private-file';

export type { StoredSession };

export async function readSession(file: string): Promise<StoredSession | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = storedSessionSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // a damaged file is a signed-out state, not a crash
  }
}

export async function writeSession(file: string, session: StoredSession): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writePrivateFile(file, JSON.stringify(session, null, 2) + '\n');
}

export async function removeSession(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** A lock older than this is from a process that died mid-refresh (a refresh takes a second or two). */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 60_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function lockIsStale(lock: string, now: number): Promise<boolean> {
  try {
    const [text, st] = await Promise.all([readFile(lock, 'utf8'), stat(lock)]);
    const pid = Number.parseInt(text, 10);
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) return true;
    return now - st.mtimeMs > STALE_LOCK_MS;
  } catch {
    return false; // vanished meanwhile: just try again
  }
}

/** Run `fn` while holding `<file>.lock` (O_EXCL create). Waits for another holder; breaks a dead holder's lock. */
export async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await lockIsStale(lock, Date.now())) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another tollgate process holds ${lock}; remove it if no tollgate command is running`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

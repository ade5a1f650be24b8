/** The gateway the developer last signed in to, so `tollgate token` needs no flag. */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writePrivateFile } from '../../extension/src/settings/private-file';

const defaultsSchema = z.object({ gateway: z.string() }).passthrough();

export async function readDefaultGateway(dir: string): Promise<string | undefined> {
  try {
    const r = defaultsSchema.safeParse(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
    return r.success ? r.data.gateway : undefined;
  } catch {
    return undefined;
  }
}

export async function writeDefaultGateway(dir: string, gateway: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writePrivateFile(join(dir, 'config.json'), JSON.stringify({ gateway }, null, 2) + '\n');
}

/**
 * "Tollgate: Set Up Codex" without the editor: writes a Codex profile pointing at this window's
 * loopback proxy, with the window's local secret as the key (`env_key`: Codex reads it from the
 * environment the window's terminals carry). No gateway credential ever reaches a file: the
 * proxy swaps the session in. The files are the ones `tollgate setup codex` writes
 * (client/src/core/codex-profile.ts), with another provider. Pure Node: no `vscode`.
 *
 * Codex 0.171 keeps each profile in its own file, `$CODEX_HOME/<name>.config.toml`, selected with
 * `--profile <name>`; it refuses `profile = "…"` and `[profiles.<name>]` in config.toml (measured).
 * The profile file is ours and rewritten whole; config.toml is only touched when the developer
 * asks for the default, and then merged.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { profileFileText, withDefaultProvider, type CodexProfileInput } from '../../../client/src/core/codex-profile';
import type { ManagedCodex } from '../../../client/src/core/managed-codex';
import { backupOnce, readText } from '../../../client/src/core/files';

/** Provider and profile name in config.toml; `codex --profile tollgate-vscode` selects it. */
export const CODEX_PROFILE = 'tollgate-vscode';
/** The environment variable that carries the window's local secret to Codex. */
export const PROXY_KEY_ENV = 'TOLLGATE_PROXY_KEY';

export interface ProxyProfileInput {
  codexHome: string;
  /** The loopback proxy, e.g. http://127.0.0.1:41234 (Codex gets `<url>/v1`). */
  proxyUrl: string;
  /** The policy's Codex block, when signed in and the gateway serves one. */
  managed?: ManagedCodex;
  makeDefault?: boolean;
}

/** Writes the profile file (and, when asked, the default into config.toml, backed up once); returns the paths written. */
export async function writeProxyProfile(o: ProxyProfileInput): Promise<string[]> {
  const input: CodexProfileInput = {
    baseUrl: `${o.proxyUrl.replace(/\/+$/, '')}/v1`,
    auth: { kind: 'env', envKey: PROXY_KEY_ENV },
    name: CODEX_PROFILE,
    makeDefault: o.makeDefault ?? false,
  };
  await mkdir(o.codexHome, { recursive: true });
  const written: string[] = [];
  if (input.makeDefault) {
    // Parsed before anything is written: a config.toml that is not TOML leaves both files as they were.
    const configPath = join(o.codexHome, 'config.toml');
    const before = await readText(configPath);
    const text = withDefaultProvider(before, input, configPath, o.managed?.config);
    // Rewriting TOML drops the developer's comments: keep the file as it was before the first setup.
    const backup = await backupOnce(configPath, before);
    await writeFile(configPath, text, 'utf8');
    written.push(configPath, ...(backup ? [backup] : []));
  }
  const profilePath = join(o.codexHome, `${CODEX_PROFILE}.config.toml`);
  await writeFile(profilePath, profileFileText(input, o.managed?.config, '"Tollgate: Set Up Codex"'), 'utf8');
  written.unshift(profilePath);
  return written;
}

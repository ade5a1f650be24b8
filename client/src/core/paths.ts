/**
 * Where the `tollgate` command keeps its files: one credentials file per gateway under the
 * user's config folder (XDG_CONFIG_HOME or ~/.config on Unix, %APPDATA% on Windows), and where
 * Codex reads its configuration (CODEX_HOME or ~/.codex). Pure: the environment is passed in.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface PathEnv {
  env: Record<string, string | undefined>;
  platform: string;
  home: string;
}

export function configDir(p: PathEnv): string {
  if (p.env.TOLLGATE_CONFIG_DIR) return p.env.TOLLGATE_CONFIG_DIR;
  if (p.platform === 'win32') return join(p.env.APPDATA || join(p.home, 'AppData', 'Roaming'), 'tollgate');
  return join(p.env.XDG_CONFIG_HOME || join(p.home, '.config'), 'tollgate');
}

/** Strip trailing slashes and refuse anything but an absolute http(s) URL, so `{base}/path` joins cleanly. */
export function normaliseGatewayUrl(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '');
  if (!URL.canParse(trimmed) || !/^https?:$/.test(new URL(trimmed).protocol)) {
    throw new Error(`"${raw}" is not a gateway URL: give the address you open in a browser, e.g. https://gateway.example.com`);
  }
  return trimmed;
}

/** One file per gateway: the host keeps it recognisable, the hash keeps paths and ports apart. */
export function credentialsFile(dir: string, gatewayUrl: string): string {
  const u = new URL(gatewayUrl);
  const hash = createHash('sha256').update(gatewayUrl).digest('hex').slice(0, 10);
  const host = u.hostname.replace(/[^a-zA-Z0-9.-]/g, '_');
  return join(dir, 'sessions', `${host}-${hash}.json`);
}

export function codexHome(p: PathEnv): string {
  return p.env.CODEX_HOME || join(p.home, '.codex');
}

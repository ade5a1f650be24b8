/**
 * `tollgate setup codex` and `tollgate setup claude`: point an agent at the gateway with this
 * command as its credential source, keeping the developer's other settings.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { backupOnce, readText } from './core/files';
import { delimiter, dirname, join } from 'node:path';
import { profileFileText, withDefaultProvider, type CodexProfileInput } from './core/codex-profile';
import { fetchManagedCodex, requirementsToml } from './core/managed-codex';
import { writePrivateFile } from '../../extension/src/settings/private-file';

/** How an agent runs this command: `tollgate` when that name on PATH is this very script, else node + script path. */
export function selfCommand(env: Record<string, string | undefined>, script = process.argv[1] ?? ''): { command: string; args: string[] } {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return undefined;
    }
  };
  const me = real(script);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, process.platform === 'win32' ? 'tollgate.cmd' : 'tollgate');
    if (me && existsSync(candidate) && real(candidate) === me) return { command: 'tollgate', args: [] };
  }
  // Keep node flags (e.g. a loader) so the command runs exactly as this one did.
  return { command: process.execPath, args: [...process.execArgv, ...(me ? [me] : [])] };
}

export interface SetupCodexOptions {
  gatewayUrl: string;
  codexHome: string;
  token: string;
  self: { command: string; args: string[] };
  name: string;
  makeDefault: boolean;
  model?: string;
  requirementsFile?: string;
  fetch?: typeof fetch;
}

export async function setupCodex(o: SetupCodexOptions): Promise<string[]> {
  const notes: string[] = [];
  const managed = await fetchManagedCodex(o.gatewayUrl, o.token, o.fetch);
  const input: CodexProfileInput = {
    baseUrl: `${o.gatewayUrl}/v1`,
    auth: { kind: 'command', command: o.self.command, args: [...o.self.args, 'token', '--gateway', o.gatewayUrl] },
    name: o.name,
    makeDefault: o.makeDefault,
    ...(o.model ? { model: o.model } : {}),
  };
  const configPath = join(o.codexHome, 'config.toml');
  const profilePath = join(o.codexHome, `${o.name}.config.toml`);
  // Everything is computed before anything is written: a config.toml that is not TOML changes nothing.
  const before = o.makeDefault ? await readText(configPath) : '';
  const config = o.makeDefault ? withDefaultProvider(before, input, configPath, managed?.config) : undefined;
  await mkdir(o.codexHome, { recursive: true });
  await writeFile(profilePath, profileFileText(input, managed?.config), 'utf8');
  notes.push(`Wrote the Codex profile ${profilePath}: \`codex --profile ${o.name}\` goes through ${o.gatewayUrl}.`);
  if (config !== undefined) {
    const backup = await backupOnce(configPath, before);
    await writeFile(configPath, config, 'utf8');
    notes.push(`Made it Codex's default provider in ${configPath}${backup ? ` (your previous file is kept in ${backup})` : ''}.`);
  }
  if (managed?.availableModels?.length) notes.push(`Models your policy allows: ${managed.availableModels.join(', ')}.`);
  if (managed?.requirements && Object.keys(managed.requirements).length) {
    const req = requirementsToml(managed.requirements);
    if (o.requirementsFile) {
      await mkdir(dirname(o.requirementsFile), { recursive: true });
      await writeFile(o.requirementsFile, req, 'utf8');
      notes.push(`Wrote your policy's Codex requirements to ${o.requirementsFile}.`);
    } else {
      notes.push('Your policy carries Codex requirements; Codex enforces them from /etc/codex/requirements.toml: run `sudo tollgate setup codex --requirements-file /etc/codex/requirements.toml` (or let your device management place it).');
    }
  }
  return notes;
}

/** Shell-quote for the one-line `apiKeyHelper` Claude Code runs through a shell. */
const sq = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function setupClaude(o: { gatewayUrl: string; settingsFile: string; self: { command: string; args: string[] } }): Promise<string[]> {
  const before = await readText(o.settingsFile);
  let doc: Record<string, unknown> = {};
  if (before.trim()) {
    try {
      doc = JSON.parse(before) as Record<string, unknown>;
    } catch {
      throw new Error(`${o.settingsFile} is not valid JSON; fix or move it, then run the setup again. Nothing was changed.`);
    }
  }
  const env = typeof doc.env === 'object' && doc.env !== null ? (doc.env as Record<string, unknown>) : {};
  doc.env = { ...env, ANTHROPIC_BASE_URL: o.gatewayUrl, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
  doc.apiKeyHelper = [o.self.command, ...o.self.args, 'token', '--gateway', o.gatewayUrl].map(sq).join(' ');
  await mkdir(dirname(o.settingsFile), { recursive: true });
  await writePrivateFile(o.settingsFile, JSON.stringify(doc, null, 2) + '\n');
  return [`Claude Code (${o.settingsFile}) now reaches ${o.gatewayUrl} with \`${doc.apiKeyHelper}\` as its apiKeyHelper.`];
}

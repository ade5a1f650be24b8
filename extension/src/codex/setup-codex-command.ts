/**
 * The "Tollgate: Set Up Codex" command: asks whether the profile should be Codex's default,
 * reads the policy's Codex block when signed in, writes the profile and says how to use it.
 */
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import { codexHome } from '../../../client/src/core/paths';
import { fetchManagedCodex, type ManagedCodex } from '../../../client/src/core/managed-codex';
import { CODEX_PROFILE, writeProxyProfile } from './setup-codex';

export interface SetUpCodexDeps {
  proxyUrl(): string | undefined;
  gatewayUrl(): string;
  accessToken(): Promise<string | undefined>;
  log: { error(message: string, err?: unknown): void };
}

async function policyBlock(d: SetUpCodexDeps): Promise<ManagedCodex | undefined> {
  const token = await d.accessToken();
  if (!token || !d.gatewayUrl()) return undefined;
  try {
    return await fetchManagedCodex(d.gatewayUrl(), token);
  } catch (err) {
    // The profile works without the policy's keys; the gateway still enforces its models.
    d.log.error('reading the Codex policy (GET /managed/codex) failed', err);
    return undefined;
  }
}

/** `{ makeDefault: boolean }` as the command's argument answers the question up front (scripts, tests). */
function presetChoice(arg: unknown): { makeDefault: boolean } | undefined {
  const m = (arg as { makeDefault?: unknown } | undefined)?.makeDefault;
  return typeof m === 'boolean' ? { makeDefault: m } : undefined;
}

export async function setUpCodex(d: SetUpCodexDeps, arg?: unknown): Promise<void> {
  const proxyUrl = d.proxyUrl();
  if (!proxyUrl) {
    void vscode.window.showErrorMessage('Tollgate is still starting its local proxy; try "Tollgate: Set Up Codex" again in a moment.');
    return;
  }
  const pick = presetChoice(arg) ?? await vscode.window.showQuickPick(
    [
      { label: 'Only with --profile', description: `codex --profile ${CODEX_PROFILE}`, makeDefault: false },
      { label: 'For every Codex run', description: `model_provider = "${CODEX_PROFILE}" in config.toml`, makeDefault: true },
    ],
    { title: 'Tollgate: Set Up Codex', placeHolder: 'When should Codex go through your Tollgate gateway?', ignoreFocusOut: true },
  );
  if (!pick) return;
  const managed = await policyBlock(d);
  try {
    const [profile, config] = await writeProxyProfile({ codexHome: codexHome({ env: process.env, platform: process.platform, home: homedir() }), proxyUrl, makeDefault: pick.makeDefault, ...(managed ? { managed } : {}) });
    const how = pick.makeDefault ? 'run `codex`' : `run \`codex --profile ${CODEX_PROFILE}\``;
    void vscode.window.showInformationMessage(`Codex is set up in ${profile}${config ? ` and ${config}` : ''}: in a new terminal of this window, ${how}.`);
  } catch (err) {
    d.log.error('writing the Codex profile failed', err);
    void vscode.window.showErrorMessage(`Tollgate could not set up Codex: ${(err as Error).message}`);
  }
}

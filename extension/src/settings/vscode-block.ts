/**
 * Applies a policy's `vscode:` block (workspace settings) and undoes it, without `vscode`: the
 * adapter supplies read/write of one key. Previous values are recorded so removal restores them,
 * and keys the developer changed since are left alone.
 */
import { canonicalJson } from '../../../gateway-server/src/protocol/settings';

export interface VscodeSettingChange {
  key: string;
  previous: unknown;
  value: unknown;
}

export interface SettingsAccess {
  get(key: string): unknown;
  set(key: string, value: unknown): Promise<void>;
}

const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Keys that could carry credentials or redirect the extension itself are never applied. */
export function allowedVscodeKey(key: string): boolean {
  return /^[A-Za-z0-9_.-]+$/.test(key) && !key.startsWith('tollgate.') && !/(token|secret|password|apikey|api_key)/i.test(key);
}

export async function applyVscodeBlock(desired: Record<string, unknown>, previous: VscodeSettingChange[], access: SettingsAccess): Promise<{ applied: VscodeSettingChange[]; changed: string[]; skipped: string[] }> {
  await removeVscodeBlock(previous.filter((p) => !(p.key in desired)), access);
  const applied: VscodeSettingChange[] = [];
  const changed: string[] = [];
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(desired)) {
    if (!allowedVscodeKey(key)) {
      skipped.push(key);
      continue;
    }
    const before = previous.find((p) => p.key === key);
    const current = access.get(key);
    const original = before && same(current, before.value) ? before.previous : current;
    if (!same(current, value)) {
      await access.set(key, value);
      changed.push(key);
    }
    applied.push({ key, previous: original, value });
  }
  return { applied, changed, skipped };
}

export async function removeVscodeBlock(applied: VscodeSettingChange[], access: SettingsAccess): Promise<string[]> {
  const restored: string[] = [];
  for (const a of applied) {
    if (!same(access.get(a.key), a.value)) continue;
    await access.set(a.key, a.previous);
    restored.push(a.key);
  }
  return restored;
}

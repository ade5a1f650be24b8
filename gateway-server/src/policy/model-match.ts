/**
 * How an `availableModels` / `deniedModels` entry matches a model, as Claude Code reads it:
 * a family alias ("opus") allows every model of that family; otherwise the entry (with
 * "claude-" prepended when missing) is a prefix ending at a `-` boundary, so "claude-haiku-4-5"
 * also allows "claude-haiku-4-5-20251001" and "opus-4" allows "claude-opus-4-8". With
 * `availableModelsMatch: exact` only exact names count. A `[1m]` suffix is ignored. Pure.
 */

const FAMILY = /^[a-z]+$/;

export function normaliseEntry(entry: string): string {
  const e = entry.trim().toLowerCase().replace(/\[1m\]$/, '');
  if (FAMILY.test(e) || e.startsWith('claude-')) return e;
  return `claude-${e}`;
}

/** True when `entry` matches any of `names` (a model's ID and its aliases). */
export function entryMatches(entry: string, names: readonly string[], exact = false): boolean {
  const raw = entry.trim().replace(/\[1m\]$/, '');
  if (exact) return names.includes(raw);
  const e = normaliseEntry(entry);
  if (FAMILY.test(e)) return names.some((n) => n.split('-').includes(e));
  // Custom IDs (no "claude-" prefix) match as written too.
  const prefixes = e === raw ? [e] : [e, raw];
  return names.some((n) => prefixes.some((p) => n === p || n.startsWith(`${p}-`)));
}

/**
 * How a specific policy is merged onto the `match: {}` catch-all (claude-apps-gateway-spec.md §3).
 * Pure. Allow-lists are replaced, deny-type lists unioned, records shallow-merged, anything else
 * replaced whole. The base is never mutated.
 */
import { canonicalJson } from '../protocol/settings';

type Doc = Record<string, unknown>;

/** Top-level lists where the specific policy can only add entries. */
export const UNION_KEYS = new Set(['disabledMcpjsonServers', 'deniedMcpServers', 'blockedMarketplaces', 'deniedModels']);
/** Under `permissions`: `allow` is an allow-list (replaced), these are deny-type (unioned). */
export const PERMISSION_UNION_KEYS = new Set(['deny', 'ask']);
/** Records merged key by key, the specific policy winning per key. */
export const RECORD_KEYS = new Set(['env', 'modelOverrides', 'skillOverrides']);

function isRecord(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Base entries first, then the specific policy's new ones; equal entries (by canonical JSON) once. */
export function union(base: unknown, extra: unknown): unknown {
  if (!Array.isArray(base) || !Array.isArray(extra)) return extra === undefined ? base : extra;
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const v of [...base, ...extra]) {
    const k = canonicalJson(v);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(v);
  }
  return out;
}

export function shallowMerge(base: unknown, extra: unknown): unknown {
  if (!isRecord(base) || !isRecord(extra)) return extra === undefined ? base : extra;
  return { ...base, ...extra };
}

function mergePermissions(base: unknown, extra: unknown): unknown {
  if (!isRecord(base) || !isRecord(extra)) return extra === undefined ? base : extra;
  const out: Doc = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = PERMISSION_UNION_KEYS.has(k) ? union(base[k], v) : v;
  return out;
}

/** Every hooks event array is unioned; events only one side has are kept as they are. */
function mergeHooks(base: unknown, extra: unknown): unknown {
  if (!isRecord(base) || !isRecord(extra)) return extra === undefined ? base : extra;
  const out: Doc = { ...base };
  for (const [event, v] of Object.entries(extra)) out[event] = union(base[event], v);
  return out;
}

/** The settings a caller matching `specific` receives, given the catch-all `base`. */
export function mergeCliSettings(base: Doc, specific: Doc): Doc {
  const out: Doc = { ...base };
  for (const [key, value] of Object.entries(specific)) {
    if (key === 'permissions') out[key] = mergePermissions(base[key], value);
    else if (key === 'hooks') out[key] = mergeHooks(base[key], value);
    else if (UNION_KEYS.has(key)) out[key] = union(base[key], value);
    else if (RECORD_KEYS.has(key)) out[key] = shallowMerge(base[key], value);
    else out[key] = value;
  }
  return out;
}

/** `vscode:` blocks are records of VS Code setting IDs: shallow merge. */
export function mergeVscodeSettings(base: Doc, specific: Doc): Doc {
  return { ...base, ...specific };
}

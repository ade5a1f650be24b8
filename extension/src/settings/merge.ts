/**
 * Merges a policy's Claude Code settings into a developer's `.claude/settings.local.json` and
 * removes exactly what was merged, using a record kept beside the file. Pure: no `vscode`, no fs.
 *
 * Rules: objects merge key by key; arrays gain the policy's items (the developer's stay);
 * scalars are replaced, remembering the developer's value so removal can restore it. Removal
 * leaves alone anything the developer changed after we wrote it.
 */
import { canonicalJson } from '../../../gateway-server/src/protocol/settings';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** One applied leaf: `path` is the key path; for arrays, `items` are the entries we added. */
export type AppliedEntry =
  | { path: string[]; kind: 'value'; value: Json; previous?: Json }
  | { path: string[]; kind: 'items'; items: Json[] };

export interface AppliedRecord {
  /** Written by the Tollgate extension; lists what it added so sign-out can remove exactly that. */
  $comment: string;
  checksum: string | null;
  entries: AppliedEntry[];
  /** The `.claude/` folder did not exist before the first merge: removal takes it away again if empty. */
  createdDir?: boolean;
}

export const RECORD_COMMENT = 'Written by the Tollgate VS Code extension: what it merged into settings.local.json. Do not edit.';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

function getAt(root: Obj, path: string[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const k of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setAt(root: Obj, path: string[], value: Json | undefined): void {
  let cur: Obj = root;
  for (const k of path.slice(0, -1)) {
    if (!isObj(cur[k])) cur[k] = {};
    cur = cur[k] as Obj;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

/** Remove objects left empty by a removal, walking back up the path. */
function prune(root: Obj, path: string[]): void {
  for (let i = path.length - 1; i > 0; i--) {
    const parent = getAt(root, path.slice(0, i));
    if (isObj(parent) && Object.keys(parent).length === 0) setAt(root, path.slice(0, i), undefined);
    else break;
  }
}

function leaves(value: Obj, prefix: string[] = []): { path: string[]; value: Json }[] {
  const out: { path: string[]; value: Json }[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (isObj(v) && Object.keys(v).length > 0) out.push(...leaves(v, [...prefix, k]));
    else out.push({ path: [...prefix, k], value: v });
  }
  return out;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Take out what a previous merge added; the result is the developer's own settings. */
export function unmerge(current: Obj, record: AppliedRecord | undefined): Obj {
  const next = clone(current);
  if (!record) return next;
  for (const e of [...record.entries].reverse()) {
    const here = getAt(next, e.path);
    if (e.kind === 'value') {
      if (!same(here, e.value)) continue; // the developer changed it since: theirs now
      setAt(next, e.path, e.previous);
      if (e.previous === undefined) prune(next, e.path);
    } else if (Array.isArray(here)) {
      const remaining = here.filter((item) => !e.items.some((i) => same(i, item)));
      if (remaining.length === 0) {
        setAt(next, e.path, undefined);
        prune(next, e.path);
      } else setAt(next, e.path, remaining);
    }
  }
  return next;
}

/** Merge `managed` over the developer's settings (after removing our previous merge). */
export function merge(current: Obj, managed: Obj, previous: AppliedRecord | undefined, checksum: string | null): { settings: Obj; record: AppliedRecord } {
  const next = unmerge(current, previous);
  const entries: AppliedEntry[] = [];
  for (const leaf of leaves(managed)) {
    const existing = getAt(next, leaf.path);
    if (Array.isArray(leaf.value)) {
      const base = Array.isArray(existing) ? existing : [];
      const added = leaf.value.filter((item) => !base.some((b) => same(b, item)));
      if (existing !== undefined && !Array.isArray(existing)) {
        entries.push({ path: leaf.path, kind: 'value', value: leaf.value, previous: existing });
        setAt(next, leaf.path, leaf.value);
      } else if (added.length > 0) {
        entries.push({ path: leaf.path, kind: 'items', items: added });
        setAt(next, leaf.path, [...base, ...added]);
      }
      continue;
    }
    if (same(existing, leaf.value)) continue; // already the developer's own: nothing to remove later
    entries.push({ path: leaf.path, kind: 'value', value: leaf.value, ...(existing !== undefined ? { previous: existing } : {}) });
    setAt(next, leaf.path, leaf.value);
  }
  return { settings: next, record: { $comment: RECORD_COMMENT, checksum, entries } };
}

/** Human-readable key paths, for the "what changed" summary. */
export function describe(record: AppliedRecord): string[] {
  return record.entries.map((e) => e.path.join('.'));
}

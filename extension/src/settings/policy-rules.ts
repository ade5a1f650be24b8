/**
 * The policy as the developer should see it (issue 19 item 3): every rule with its value, the
 * Claude Code settings and the VS Code settings it changes, without the proxy's own plumbing.
 * Pure: no `vscode`.
 */
import type { PolicyRule } from '../../../gateway-server/src/protocol/webview';
import type { Json } from './merge';
import { allowedVscodeKey } from './vscode-block';

/** Plumbing that routes agents to the proxy: never a rule of the organisation's. */
export const PROXY_KEYS = new Set(['env.ANTHROPIC_BASE_URL', 'env.ANTHROPIC_AUTH_TOKEN', 'env.ANTHROPIC_API_KEY']);

const isObj = (v: unknown): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

export function showValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'null';
}

function leaves(value: { [k: string]: Json }, prefix = ''): { key: string; value: Json }[] {
  const out: { key: string; value: Json }[] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObj(v) && Object.keys(v).length > 0) out.push(...leaves(v, key));
    else out.push({ key, value: v });
  }
  return out;
}

/** Claude Code rules from the (sanitised) managed settings, one per leaf key path. */
export function claudeRules(settings: { [k: string]: Json }): PolicyRule[] {
  return leaves(settings)
    .filter((l) => !PROXY_KEYS.has(l.key))
    .map((l) => ({ key: l.key, value: showValue(l.value), target: 'claude' as const }));
}

/** VS Code settings the policy sets (the ones the extension is allowed to apply). */
export function vscodeRules(block: Record<string, unknown> | null | undefined): PolicyRule[] {
  return Object.entries(block ?? {})
    .filter(([k]) => allowedVscodeKey(k))
    .map(([key, value]) => ({ key, value: showValue(value), target: 'vscode' as const }));
}

/**
 * What to tell the developer after a policy refresh, or undefined for nothing. A gateway without
 * a policy for them never hears "applied your policy" (there is none); `announce` is the Refresh
 * Policy command, which always answers.
 */
export function policyAnnouncement(summary: string[], announce: boolean, hasRules: boolean): string | undefined {
  if (summary.length) return `Tollgate applied your policy. ${summary.join('. ')}.`;
  if (!announce) return undefined;
  return hasRules ? 'Tollgate policy is up to date.' : 'No policy applies to you on this gateway: Tollgate has nothing to apply.';
}

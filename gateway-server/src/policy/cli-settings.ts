/**
 * Boot-time validation of a policy's `cli:` block, a Claude Code managed-settings document
 * (claude-code-client.md, claude-apps-gateway-spec.md §3). The keys we know must have the right
 * type, so a typo'd type fails boot instead of being silently ignored by every client. An unknown
 * top-level key fails boot too, with the nearest known key: `availableModel:` would otherwise turn
 * a group's model restriction off without a word. Keys newer than our list pass when the operator
 * names them in managed.allow_unknown_cli_keys. Keys that only make sense in a machine's local
 * managed settings (sign-in pins) or that the gateway cannot deliver safely are rejected.
 */
import { z } from 'zod';
import { EXTRA_KNOWN_CLI_KEYS } from './cli-known-keys';

const strings = z.array(z.string());
const stringRecord = z.record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans in YAML, e.g. "1")' }));

const hookCommand = z.looseObject({ type: z.string(), command: z.string().optional(), timeout: z.number().positive().optional() });
const hookMatcher = z.looseObject({ matcher: z.string().optional(), hooks: z.array(hookCommand) });

const permissions = z.looseObject({
  allow: strings.optional(),
  deny: strings.optional(),
  ask: strings.optional(),
  defaultMode: z.string().optional(),
  disableBypassPermissionsMode: z.literal('disable').optional(),
  additionalDirectories: strings.optional(),
});

export const cliSettingsSchema = z.looseObject({
  apiKeyHelper: z.string().optional(),
  otelHeadersHelper: z.string().optional(),
  awsAuthRefresh: z.string().optional(),
  awsCredentialExport: z.string().optional(),
  model: z.string().optional(),
  availableModels: strings.optional(),
  enforceAvailableModels: z.boolean().optional(),
  availableModelsMatch: z.enum(['prefix', 'exact']).optional(),
  deniedModels: strings.optional(),
  modelOverrides: stringRecord.optional(),
  skillOverrides: z.record(z.string(), z.unknown()).optional(),
  env: stringRecord.optional(),
  permissions: permissions.optional(),
  allowManagedPermissionRulesOnly: z.boolean().optional(),
  allowManagedHooksOnly: z.boolean().optional(),
  allowManagedMcpServersOnly: z.boolean().optional(),
  disableAllHooks: z.boolean().optional(),
  hooks: z.record(z.string(), z.array(hookMatcher)).optional(),
  enableAllProjectMcpServers: z.boolean().optional(),
  enabledMcpjsonServers: strings.optional(),
  disabledMcpjsonServers: strings.optional(),
  allowedMcpServers: z.array(z.record(z.string(), z.unknown())).optional(),
  deniedMcpServers: z.array(z.record(z.string(), z.unknown())).optional(),
  strictKnownMarketplaces: z.array(z.unknown()).optional(),
  blockedMarketplaces: z.array(z.unknown()).optional(),
  cleanupPeriodDays: z.number().int().min(0).optional(),
  companyAnnouncements: strings.optional(),
  includeCoAuthoredBy: z.boolean().optional(),
  skipWebFetchPreflight: z.boolean().optional(),
  requiredMinimumVersion: z.string().optional(),
  requiredMaximumVersion: z.string().optional(),
  parentSettingsBehavior: z.string().optional(),
  statusLine: z.looseObject({ type: z.string(), command: z.string().optional() }).optional(),
  sandbox: z.record(z.string(), z.unknown()).optional(),
  modelPricing: z.record(z.string(), z.unknown()).optional(),
  alwaysThinkingEnabled: z.boolean().optional(),
  outputStyle: z.string().optional(),
});

/** Keys refused in a gateway policy, with what to do instead. */
export const FORBIDDEN_CLI_KEYS: Readonly<Record<string, string>> = {
  forceLoginMethod: 'sign-in pins belong in the machine\'s local managed-settings.json, not in settings the gateway serves after sign-in',
  forceLoginOrgUUID: 'sign-in pins belong in the machine\'s local managed-settings.json, not in settings the gateway serves after sign-in',
  forceLoginGatewayUrl: 'sign-in pins belong in the machine\'s local managed-settings.json, not in settings the gateway serves after sign-in',
  gatewayInternalNetworks: 'it belongs in the machine\'s local managed-settings.json, not in settings the gateway serves',
  mcpServers: 'use managedMcpServers (http/sse servers) instead',
};

export const KNOWN_CLI_KEYS: ReadonlySet<string> = new Set([
  ...Object.keys(cliSettingsSchema.shape),
  ...Object.keys(FORBIDDEN_CLI_KEYS),
  ...EXTRA_KNOWN_CLI_KEYS,
]);

/** One sentence per problem, each naming the policy (`where`) and the key. */
export function validateCliSettings(doc: Record<string, unknown>, where: string, allowUnknown: readonly string[] = []): string[] {
  const problems: string[] = [];
  for (const [key, why] of Object.entries(FORBIDDEN_CLI_KEYS)) {
    if (key in doc) problems.push(`${where}.${key}: not allowed in a gateway policy; ${why}. Remove it.`);
  }
  for (const key of Object.keys(doc)) {
    if (KNOWN_CLI_KEYS.has(key) || allowUnknown.includes(key)) continue;
    const near = nearestKey(key);
    problems.push(
      `${where}.${key}: is not a Claude Code managed setting Tollgate knows${near ? `; did you mean "${near}"?` : '.'} ` +
        `If it is a newer setting, list it in managed.allow_unknown_cli_keys.`,
    );
  }
  const parsed = cliSettingsSchema.safeParse(doc);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join('.');
      problems.push(`${where}.${path}: ${issue.message}.`.replace(/\.\.$/, '.'));
    }
  }
  return problems;
}

/** The known key nearest in edit distance (case-insensitive), if near enough to be a typo. */
export function nearestKey(key: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of KNOWN_CLI_KEYS) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

/** Levenshtein distance, two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

const SETTING_ID = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

/** A `vscode:` block maps VS Code setting IDs to any JSON value. */
export function validateVscodeSettings(doc: Record<string, unknown>, where: string): string[] {
  return Object.keys(doc)
    .filter((k) => !SETTING_ID.test(k))
    .map((k) => `${where}: "${k}" is not a VS Code setting ID (such as "files.exclude").`);
}

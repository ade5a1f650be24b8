/**
 * Top-level keys of a Claude Code managed-settings document that Tollgate knows, beyond the ones
 * cli-settings.ts type-checks. Sources: /work/shared/reference (claude-apps-gateway-spec.md §3,
 * claude-code-client.md) and Claude Code's settings reference (code.claude.com/docs/en/settings-reference).
 * A key missing here fails boot with a "did you mean"; an operator using a key newer than this
 * list names it in managed.allow_unknown_cli_keys.
 */
export const EXTRA_KNOWN_CLI_KEYS: readonly string[] = [
  '$schema',
  'advisorModel',
  'allowAllClaudeAiMcps',
  'effortLevel',
  'enabledPlugins',
  'extraKnownMarketplaces',
  'fallbackModel',
  'forceRemoteSettingsRefresh',
  'language',
  'managedMcpServers',
  'modelSettings',
  'pluginConfigs',
  'policyHelper',
  'preferredNotifChannel',
  'spinnerTipsEnabled',
];

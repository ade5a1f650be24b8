/**
 * Every gateway.yaml key either does something or refuses to boot. Walks the zod schema and
 * fails when a key is on none of the lists below: IMPLEMENTED (read by the gateway's code, with
 * the test file that exercises it, or null where only the schema's own tests cover it), REFUSED
 * (config/refused.ts: boot fails with a sentence) or PENDING (implemented on another branch;
 * the merge moves them to IMPLEMENTED). "Read by the code" is checked independently of the lists:
 * the key's name must occur in gateway-server/src outside the schema and the config templates.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, resolveConfig } from '../../gateway-server/src/config/load';
import { REFUSED_KEYS } from '../../gateway-server/src/config/refused';
import { configSchema } from '../../gateway-server/src/config/schema';
import { schemaKeyPaths } from './schema-walk';

const IMPLEMENTED = new Map<string, string | null>([
  ['listen', 'test/e2e/container-path.test.ts'],
  ['listen.host', 'test/e2e/container-path.test.ts'],
  ['listen.port', 'test/e2e/container-path.test.ts'],
  ['listen.public_url', 'test/e2e/scale-out.test.ts'],
  ['listen.tls', 'test/integration/listen-tls.test.ts'],
  ['listen.tls.cert', 'test/integration/listen-tls.test.ts'],
  ['listen.tls.key', 'test/integration/listen-tls.test.ts'],
  ['listen.trusted_proxies', 'test/integration/network-access.test.ts'],
  ['access_control', 'test/integration/network-access.test.ts'],
  ['access_control.allow_cidrs', 'test/integration/network-access.test.ts'],
  ['access_control.deny_cidrs', 'test/integration/network-access.test.ts'],
  ['oidc', 'test/e2e/scale-out.test.ts'],
  ['oidc.issuer', 'test/e2e/scale-out.test.ts'],
  ['oidc.client_id', 'test/integration/identity.test.ts'],
  ['oidc.client_secret', 'test/integration/identity-network.test.ts'],
  ['oidc.token_endpoint_auth_method', null],
  ['oidc.client_assertion', 'test/integration/identity-network.test.ts'],
  ['oidc.client_assertion.private_key_pem', 'test/integration/identity-network.test.ts'],
  ['oidc.client_assertion.certificate_pem', 'test/integration/identity-network.test.ts'],
  ['oidc.allowed_email_domains', 'test/e2e/scale-out.test.ts'],
  ['oidc.allowed_groups', 'test/integration/identity-clients.test.ts'],
  ['oidc.groups_claim', 'test/integration/identity-clients.test.ts'],
  ['oidc.email_claim', 'test/integration/identity-clients.test.ts'],
  ['oidc.scopes', null],
  ['oidc.scope_on_refresh', null],
  ['oidc.extra_auth_params', 'test/support/test-idp.ts'],
  ['oidc.userinfo_fallback', 'test/integration/identity-clients.test.ts'],
  ['oidc.use_pkce', null],
  ['oidc.clock_skew_seconds', 'test/integration/identity-id-token.test.ts'],
  ['oidc.id_token_signed_response_alg', null],
  ['oidc.additional_authorized_parties', 'test/integration/identity-id-token.test.ts'],
  ['oidc.discovery_url', null],
  ['oidc.use_proxy', 'test/integration/identity-network.test.ts'],
  ['oidc.form_action_origins', null],
  ['oidc.ca_cert_pem', 'test/integration/identity-network.test.ts'],
  ['oidc.allow_insecure_issuer', 'test/integration/ops-commands.test.ts'],
  ['session', 'test/e2e/audit-durability.test.ts'],
  ['session.jwt_secret', 'test/e2e/audit-durability.test.ts'],
  ['session.ttl_hours', null],
  ['store', 'test/e2e/audit-durability.test.ts'],
  ['store.postgres_url', 'test/e2e/audit-durability.test.ts'],
  ['store.listen_url', 'test/integration/store-pgbouncer.test.ts'],
  ['store.read_url', 'test/integration/store-read-replica.test.ts'],
  ['store.username', 'test/integration/identity.test.ts'],
  ['store.password', 'test/e2e/extension-ui.test.ts'],
  ['store.max_connections', 'test/e2e/scale-out.test.ts'],
  ['store.connect_timeout_seconds', null],
  ['store.data_dir', 'test/e2e/server-process.test.ts'],
  ['upstreams', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[anthropic].name', 'test/e2e/bench-smoke.test.ts'],
  ['upstreams[anthropic].provider', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[anthropic].base_url', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[anthropic].auth', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[anthropic].auth.api_key', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[anthropic].auth.oauth_token', 'test/integration/anthropic-upstream-keys.test.ts'],
  ['upstreams[anthropic].forward_user_identity', 'test/integration/anthropic-upstream-keys.test.ts'],
  ['upstreams[anthropic].headers', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[bedrock].name', 'test/e2e/bench-smoke.test.ts'],
  ['upstreams[bedrock].provider', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[bedrock].region', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].base_url', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[bedrock].auth', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[bedrock].auth.aws_access_key_id', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].auth.aws_secret_access_key', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].auth.aws_session_token', 'test/support/cloud-fixtures.ts'],
  ['upstreams[bedrock].auth.aws_bearer_token', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].guardrail', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].guardrail.id', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[bedrock].guardrail.version', 'test/e2e/extension-ui.test.ts'],
  ['upstreams[bedrock].assume_role', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].assume_role.role_arn', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].assume_role.external_id', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].assume_role.session_name', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[bedrock].headers', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[vertex].name', 'test/e2e/bench-smoke.test.ts'],
  ['upstreams[vertex].provider', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[vertex].region', 'test/integration/cloud-upstreams.test.ts'],
  ['upstreams[vertex].project_id', 'test/support/cloud-fixtures.ts'],
  ['upstreams[vertex].base_url', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[vertex].auth', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[vertex].auth.service_account_json', 'test/e2e/cloud-upstreams.test.ts'],
  ['upstreams[vertex].auth.access_token', 'test/e2e/scale-out.test.ts'],
  ['upstreams[vertex].headers', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[simulated].name', 'test/e2e/bench-smoke.test.ts'],
  ['upstreams[simulated].provider', 'test/e2e/audit-durability.test.ts'],
  ['upstreams[simulated].reply', 'test/e2e/extension-ui.test.ts'],
  ['admin', 'test/e2e/scale-out.test.ts'],
  ['admin.write_keys', 'test/e2e/scale-out.test.ts'],
  ['admin.write_keys[].id', 'test/e2e/audit-durability.test.ts'],
  ['admin.write_keys[].key', 'test/e2e/policy-boot.test.ts'],
  ['admin.read_keys', 'test/integration/audit.test.ts'],
  ['admin.read_keys[].id', 'test/e2e/audit-durability.test.ts'],
  ['admin.read_keys[].key', 'test/e2e/policy-boot.test.ts'],
  ['admin.viewer_groups', 'test/integration/audit-viewer.test.ts'],
  ['admin.admin_groups', 'test/integration/desktop-bootstrap.test.ts'],
  ['admin.blocked_message', 'test/e2e/spend-cli.test.ts'],
  ['admin.audit_retention_days', null],
  ['admin.spend_retention_months', 'test/integration/spend-retention.test.ts'],
  ['admin.identity_retention_days', 'test/integration/spend-retention.test.ts'],
  ['admin.group_limit_mode', null],
  ['enforcement', 'test/e2e/scale-out.test.ts'],
  ['enforcement.fail_closed_on_error', 'test/integration/spend-modes.test.ts'],
  ['enforcement.mode', 'test/e2e/bench-smoke.test.ts'],
  ['enforcement.reservation', 'test/e2e/spend-replicas.test.ts'],
  ['enforcement.min_output_tokens', 'test/integration/spend-near-cap.test.ts'],
  ['enforcement.count_tokens_near_cap', 'test/integration/spend-near-cap.test.ts'],
  ['enforcement.drop_cache_control_near_cap', 'test/integration/spend-near-cap.test.ts'],
  ['pricing', 'test/integration/policy-pricing-cli.test.ts'],
  ['pricing.multiplier', 'test/integration/policy-pricing-cli.test.ts'],
  ['pricing.overrides', 'test/integration/policy-pricing-cli.test.ts'],
  ['pricing.overrides[].upstream', 'test/e2e/bench-smoke.test.ts'],
  ['pricing.overrides[].model', 'test/e2e/audit-durability.test.ts'],
  ['pricing.overrides[].input', 'test/e2e/extension-ui.test.ts'],
  ['pricing.overrides[].output', 'test/e2e/cloud-upstreams.test.ts'],
  ['pricing.overrides[].cache_read', null],
  ['pricing.overrides[].cache_write', null],
  ['pricing.overrides[].cache_write_1h', null],
  ['pricing.overrides[].web_search', 'test/unit/spend-logic.test.ts'],
  ['auto_include_builtin_models', 'test/unit/policy-set.test.ts'],
  ['models', 'test/e2e/extension-ui.test.ts'],
  ['models[].id', 'test/e2e/audit-durability.test.ts'],
  ['models[].label', 'test/integration/desktop-bootstrap.test.ts'],
  ['models[].description', 'test/integration/protocol-page.test.ts'],
  ['models[].upstream_model', 'test/integration/cloud-upstreams.test.ts'],
  ['managed', 'test/e2e/host/suite.ts'],
  ['managed.allow_unknown_cli_keys', 'test/unit/policy-set.test.ts'],
  ['managed.policies', 'test/e2e/policy-boot.test.ts'],
  ['managed.policies[].name', 'test/e2e/bench-smoke.test.ts'],
  ['managed.policies[].match', 'test/e2e/audit-durability.test.ts'],
  ['managed.policies[].match.groups', 'test/e2e/audit-durability.test.ts'],
  ['managed.policies[].match.email_domain', 'test/integration/policy.test.ts'],
  ['managed.policies[].cli', 'test/e2e/cloud-upstreams.test.ts'],
  ['managed.policies[].settings', 'test/e2e/extension-host.test.ts'],
  ['managed.policies[].desktop', 'test/integration/desktop-bootstrap.test.ts'],
  ['managed.policies[].vscode', 'test/e2e/extension-host.test.ts'],
  ['console', 'test/integration/console-reports.test.ts'],
  ['console.enabled', 'test/integration/console-reports.test.ts'],
  ['telemetry', 'test/integration/desktop-bootstrap.test.ts'],
  ['telemetry.forward_to', 'test/integration/desktop-bootstrap.test.ts'],
  ['telemetry.forward_to[].url', 'test/e2e/audit-durability.test.ts'],
  ['telemetry.forward_to[].headers', 'test/e2e/audit-durability.test.ts'],
  ['telemetry.forward_to[].metrics', 'test/integration/cloud-upstreams.test.ts'],
  ['telemetry.forward_to[].logs', 'test/integration/cloud-upstreams.test.ts'],
  ['telemetry.forward_to[].traces', 'test/integration/telemetry.test.ts'],
  ['telemetry.forward_to[].gateway_metrics', 'test/integration/telemetry.test.ts'],
  ['telemetry.resource_attributes', 'test/integration/policy.test.ts'],
  ['limits', 'test/e2e/spend-replicas.test.ts'],
  ['limits.max_request_bytes', 'test/integration/inference.test.ts'],
  ['limits.max_request_header_bytes', 'test/integration/identity.test.ts'],
  ['timeouts', 'test/integration/cloud-upstreams.test.ts'],
  ['timeouts.upstream_ttfb_ms', 'test/integration/cloud-upstreams.test.ts'],
  ['rate_limits', 'test/e2e/scale-out.test.ts'],
  ['rate_limits.device_authorization', 'test/e2e/scale-out.test.ts'],
  ['rate_limits.device_authorization.max', 'test/e2e/scale-out.test.ts'],
  ['rate_limits.device_authorization.window_seconds', 'test/e2e/scale-out.test.ts'],
  ['rate_limits.device_verify', 'test/e2e/scale-out.test.ts'],
  ['rate_limits.device_verify.max', 'test/e2e/scale-out.test.ts'],
  ['rate_limits.device_verify.window_seconds', 'test/e2e/scale-out.test.ts'],
  ['dev_idp', 'test/unit/identity.test.ts'],
  ['dev_idp.enabled', 'test/integration/cloud-upstreams.test.ts'],
  ['dev_idp.port', 'test/e2e/container-path.test.ts'],
  ['circuit_breaker', 'test/integration/failover.test.ts'],
  ['circuit_breaker.failure_threshold', 'test/integration/failover.test.ts'],
  ['circuit_breaker.cooldown_seconds', 'test/integration/failover.test.ts'],
  ['limits.max_url_length', 'test/integration/edge-errors.test.ts'],
  ['timeouts.client_headers_ms', 'test/integration/client-timeouts.test.ts'],
  ['timeouts.client_body_idle_ms', 'test/integration/client-timeouts.test.ts'],
  ['timeouts.client_request_ms', 'test/integration/client-timeouts.test.ts'],
  ['timeouts.keep_alive_ms', 'test/integration/client-timeouts.test.ts'],
  ['timeouts.upstream_idle_ms', 'test/integration/reply-integrity.test.ts'],
  ['store.readiness_grace_seconds', 'test/integration/store-outage.test.ts'],
  ['store.spool_dir', 'test/integration/store-outage.test.ts'],
  ['store.spool_max_bytes', 'test/integration/store-outage.test.ts'],
  ['upstreams[openai].name', 'test/integration/responses.test.ts'],
  ['upstreams[openai].provider', 'test/integration/responses.test.ts'],
  ['upstreams[openai].base_url', 'test/integration/responses.test.ts'],
  ['upstreams[openai].auth', 'test/integration/responses.test.ts'],
  ['upstreams[openai].auth.api_key', 'test/integration/responses.test.ts'],
  ['upstreams[openai].headers', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].name', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].provider', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].endpoint', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].api_version', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].deployments', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].auth', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].auth.api_key', 'test/integration/responses.test.ts'],
  ['upstreams[azure_openai].auth.entra_id', 'test/e2e/azure-entra.test.ts'],
  ['upstreams[azure_openai].auth.entra_id.tenant_id', 'test/e2e/azure-entra.test.ts'],
  ['upstreams[azure_openai].auth.entra_id.client_id', 'test/e2e/azure-entra.test.ts'],
  ['upstreams[azure_openai].auth.entra_id.client_secret', 'test/e2e/azure-entra.test.ts'],
  ['upstreams[azure_openai].auth.entra_id.client_certificate_path', 'test/e2e/azure-entra.test.ts'],
  ['upstreams[azure_openai].auth.entra_id.authority_host', 'test/e2e/azure-entra.test.ts'],
  ['upstreams[azure_openai].headers', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex', 'test/integration/responses.test.ts'],
  ['enforcement.default_max_output_tokens', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex.availableModels', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex.config', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex.requirements', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex.requirements.allowed_approval_policies', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex.requirements.allowed_sandbox_modes', 'test/integration/responses.test.ts'],
  ['managed.policies[].codex.requirements.mcp_servers', 'test/integration/responses.test.ts'],
  ['audit', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks', 'test/integration/audit-sinks.test.ts'],
  ['audit.checkpoints', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.every_rows', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.every_seconds', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.signing_key_id', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.keys', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.keys[].id', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.keys[].key', 'test/integration/audit-bundle.test.ts'],
  ['audit.checkpoints.key_file', 'test/unit/audit-seal.test.ts'],
  ['audit.sinks[otlp].type', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[otlp].name', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[otlp].batch_size', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[otlp].max_backoff_seconds', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[otlp].url', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[otlp].headers', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[otlp].encoding', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].type', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].name', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].batch_size', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].max_backoff_seconds', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].url', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].token', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].index', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].source', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].sourcetype', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].ack', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[splunk_hec].ack_timeout_seconds', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[syslog].type', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].name', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].batch_size', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].max_backoff_seconds', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].host', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].port', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].tls', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[syslog].tls.ca', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[syslog].tls.servername', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[syslog].format', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[syslog].app_name', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[file].type', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[file].name', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[file].batch_size', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[file].max_backoff_seconds', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[file].dir', 'test/integration/audit-sinks.test.ts'],
  ['audit.sinks[s3].type', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].name', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].batch_size', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].max_backoff_seconds', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].bucket', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].region', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].endpoint', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].force_path_style', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].prefix', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].access_key_id', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].secret_access_key', 'test/integration/audit-s3-sink.test.ts'],
  ['audit.sinks[s3].session_token', 'test/unit/audit-sinks.test.ts'],
  ['audit.sinks[otlp].schema', 'test/unit/audit-ocsf.test.ts'],
  ['audit.sinks[splunk_hec].schema', 'test/unit/audit-ocsf.test.ts'],
  ['audit.sinks[syslog].schema', 'test/unit/audit-ocsf.test.ts'],
  ['audit.sinks[file].schema', 'test/integration/audit-ocsf.test.ts'],
  ['audit.sinks[s3].schema', 'test/unit/audit-sinks.test.ts'],
]);

/** Keys a branch adds before the code that reads them lands (empty on main). */
const PENDING: string[] = [];

const REFUSED = REFUSED_KEYS.map((r) => r.path);
const keys = schemaKeyPaths(configSchema);
const refusedOrUnder = (k: string) => REFUSED.some((r) => k === r || k.startsWith(`${r}.`));

/** Source the gateway runs, minus the files that only declare or template keys. */
function codeText(): string {
  const skip = new Set(['config/schema.ts', 'config/refused.ts', 'config/starter.ts', 'ops/pilot-template.ts']);
  const root = 'gateway-server/src';
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !skip.has(p.slice(root.length + 1))) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return out.join('\n');
}
const leaf = (k: string) => k.split('.').pop()!.replace(/\[.*$/, '');

describe('config keys: every key works or refuses to boot', () => {
  it('every schema key is implemented, refused or pending, and on exactly one list', () => {
    const unlisted = keys.filter((k) => !IMPLEMENTED.has(k) && !refusedOrUnder(k) && !PENDING.includes(k));
    assert.deepEqual(unlisted, [], `add these keys to IMPLEMENTED (with a test) or to config/refused.ts`);
    for (const k of IMPLEMENTED.keys()) {
      assert.ok(!refusedOrUnder(k) && !PENDING.includes(k), `${k} is on two lists`);
    }
  });

  it('every listed key exists in the schema', () => {
    const all = new Set(keys);
    for (const k of [...IMPLEMENTED.keys(), ...REFUSED]) assert.ok(all.has(k), `${k} is not a schema key`);
  });

  it('every implemented key is read by the code and named by its test', () => {
    const code = codeText();
    for (const [k, test] of IMPLEMENTED) {
      assert.match(code, new RegExp(`\\b${leaf(k)}\\b`), `${k} is never read outside the schema`);
      if (test === null) continue;
      assert.ok(existsSync(test), `${k}: ${test} does not exist`);
      assert.match(readFileSync(test, 'utf8'), new RegExp(`\\b${leaf(k)}\\b`), `${test} never mentions ${k}`);
    }
  });

  it('every refused key fails boot with a sentence naming it', () => {
    for (const path of REFUSED) {
      const raw = minimalWith(path);
      let problems: string[] = [];
      try {
        resolveConfig(raw, {});
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        problems = err.problems;
      }
      const concrete = path.replace(/^upstreams\[\w+\]/, 'upstreams.0');
      assert.ok(
        problems.some((p) => p.startsWith(`${concrete}: is not supported: `)),
        `${path} did not refuse boot: ${JSON.stringify(problems)}`,
      );
    }
  });

  it("refuses forward_user_identity towards Anthropic's own host, allows it towards a proxy", () => {
    const up = (base_url?: string) => ({ provider: 'anthropic', auth: { api_key: 'k' }, forward_user_identity: true, ...(base_url ? { base_url } : {}) });
    for (const base of [undefined, 'https://api.anthropic.com', 'https://eu.api.anthropic.com/v1', 'https://API.Anthropic.com.:443']) {
      const p = bootProblems({ ...minimalWith(''), upstreams: [up(base)] });
      assert.equal(p.length, 1, JSON.stringify(p));
      assert.match(p[0]!, /^upstreams\.0\.forward_user_identity: would send every user's id and e-mail address to Anthropic/);
    }
    assert.deepEqual(bootProblems({ ...minimalWith(''), upstreams: [up('https://litellm.internal.example')] }), []);
    assert.deepEqual(bootProblems({ ...minimalWith(''), upstreams: [up('https://anthropic.com.evil.example')] }), []);
  });

  it('refuses an http:// issuer without oidc.allow_insecure_issuer, naming the fix', () => {
    const raw = { ...minimalWith(''), oidc: { issuer: 'http://idp.example.com', client_id: 'c' } };
    const p = bootProblems(raw);
    assert.equal(p.length, 1, JSON.stringify(p));
    assert.match(p[0]!, /^oidc\.issuer: http:\/\/idp\.example\.com is plain http:\/\/.*oidc\.allow_insecure_issuer: true/);
    assert.deepEqual(bootProblems({ ...raw, oidc: { ...raw.oidc, allow_insecure_issuer: true } }), []);
    assert.deepEqual(bootProblems({ ...raw, oidc: { ...raw.oidc, issuer: 'https://idp.example.com' } }), []);
  });
});

function bootProblems(raw: unknown): string[] {
  try {
    resolveConfig(raw, {});
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

/** A valid minimal document with `path` set to a plausible value. */
function minimalWith(path: string): Record<string, unknown> {
  const upstream: Record<string, unknown> = { provider: 'anthropic', auth: { api_key: 'k' } };
  const raw: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 8080 },
    session: { jwt_secret: 'x'.repeat(32) },
    upstreams: [upstream],
    oidc: { issuer: 'https://idp.example.com', client_id: 'c' },
    admin: {},
  };
  if (!path) return raw;
  const segs = path.split('.');
  const provider = /^upstreams\[(\w+)\]$/.exec(segs[0]!)?.[1];
  if (provider === 'azure_openai') Object.assign(upstream, { provider, endpoint: 'https://r.openai.azure.com', deployments: { 'gpt-5-codex': 'd' }, auth: {} });
  let obj: Record<string, unknown> = provider ? upstream : raw;
  if (provider) segs.shift();
  for (const s of segs.slice(0, -1)) obj = (obj[s] ??= {}) as Record<string, unknown>;
  const last = segs.at(-1)!;
  obj[last] = last === 'google_groups' ? { service_account_json_path: '/sa.json', admin_email: 'a@example.com' } : 'value';
  return raw;
}

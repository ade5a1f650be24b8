/**
 * The gateway.yaml schema. Key names follow the Claude apps gateway so an operator can
 * move a file between the two; keys that are ours are marked "Tollgate extension" and
 * documented in docs/configuration.md. Every object is strict: an unknown key fails boot
 * with its path.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { isCidr } from '../access/network-gate';
import { codexPolicySchema } from '../protocol/codex';
import { auditSchema } from './audit-schema';

const port = z.number().int().min(0).max(65535);
const url = z.string().url();
const cidr = z.string().refine(isCidr, 'must be a CIDR range such as 10.0.0.0/8 or fc00::/7, or a single address');
const secretString = z.string().min(1);

export const listenSchema = z
  .object({
    host: z.string().default('0.0.0.0'),
    port: port.default(8080),
    public_url: url.optional(),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    trusted_proxies: z
      .array(z.string().refine((p) => isCidr(p) || ['loopback', 'linklocal', 'uniquelocal'].includes(p), 'must be an address, a CIDR range, or loopback / linklocal / uniquelocal'))
      .default([]),
  })
  .strict();

export const storeSchema = z
  .object({
    postgres_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    /**
     * Tollgate extension: the connection that LISTENs for revocations and cap changes from other
     * replicas (default postgres_url). Point it at the server directly, or at a session-mode pool,
     * when postgres_url goes through a transaction-pooling proxy (PgBouncer `pool_mode =
     * transaction`, RDS Proxy), which does not deliver notifications (docs/scaling.md).
     */
    listen_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    /**
     * Tollgate extension: a read replica (streaming hot standby) of the same database for reads
     * that tolerate seconds of lag: the audit trail's queries and exports, /v1/me/requests and the
     * spend summary (`…/spend_limits/effective`). Falls back to postgres_url when it fails.
     */
    read_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    max_connections: z.number().int().min(1).max(200).default(10),
    connect_timeout_seconds: z.number().int().min(1).max(60).default(5),
    readiness_grace_seconds: z.number().int().min(0).max(3600).default(0),
    /** Tollgate extension: folder of the embedded PostgreSQL (PGlite) used when no postgres_url is set. */
    data_dir: z.string().default('./.tollgate/data'),
    /**
     * Tollgate extension: folder of the durable audit spool, where audit rows and the settlements
     * they carry wait while PostgreSQL is unreachable (default: `spool` beside data_dir). Give it a
     * persistent volume: a replica restarted on the same folder replays what a dead one left.
     */
    spool_dir: z.string().optional(),
    /** Tollgate extension: the spool's bound; when full, new requests get 503 AUDIT_SPOOL_FULL (default 256 MiB). */
    spool_max_bytes: z.number().int().min(1024).max(2 ** 40).default(256 * 1024 * 1024),
  })
  .strict()
  .refine((s) => !s.listen_url || s.postgres_url, { message: 'needs store.postgres_url: it is a second connection to the same PostgreSQL', path: ['listen_url'] })
  .refine((s) => !s.read_url || s.postgres_url, { message: 'needs store.postgres_url: it is a replica of that PostgreSQL', path: ['read_url'] });

export const sessionSchema = z
  .object({
    jwt_secret: z
      .union([secretString, z.array(secretString).min(1)])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .refine((list) => list.every((s) => Buffer.byteLength(s) >= 32), 'every secret must be at least 32 bytes'),
    ttl_hours: z.number().positive().max(24 * 30).default(1),
  })
  .strict();

const rateLimit = z
  .object({ max: z.number().int().min(1), window_seconds: z.number().int().min(1) })
  .strict();

export const rateLimitsSchema = z
  .object({
    device_authorization: rateLimit.default({ max: 30, window_seconds: 600 }),
    device_verify: rateLimit.default({ max: 10, window_seconds: 600 }),
  })
  .strict()
  .default({ device_authorization: { max: 30, window_seconds: 600 }, device_verify: { max: 10, window_seconds: 600 } });

export const oidcSchema = z
  .object({
    issuer: url,
    client_id: z.string().min(1),
    client_secret: z.string().optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']).optional(),
    client_assertion: z.object({ private_key_pem: z.string(), certificate_pem: z.string().optional() }).strict().optional(),
    allowed_email_domains: z.array(z.string().min(1)).default([]),
    allowed_groups: z.array(z.string().min(1)).default([]),
    groups_claim: z.string().default('groups'),
    email_claim: z.union([z.string(), z.array(z.string()).min(1)]).default('email'),
    scopes: z.array(z.string()).default(['openid', 'profile', 'email', 'offline_access']),
    scope_on_refresh: z.boolean().default(false),
    extra_auth_params: z.record(z.string(), z.string()).default({}),
    userinfo_fallback: z.boolean().default(false),
    use_pkce: z.boolean().default(true),
    clock_skew_seconds: z.number().int().min(0).max(600).default(0),
    id_token_signed_response_alg: z.string().default('RS256'),
    additional_authorized_parties: z.array(z.string()).default([]),
    discovery_url: url.optional(),
    use_proxy: z.boolean().optional(),
    form_action_origins: z.array(z.string()).default([]),
    ca_cert_pem: z
      .string()
      .refine(isPemCertificate, 'oidc.ca_cert_pem must be the PEM content of a CA certificate (e.g. ${file:/etc/gateway/idp-ca.pem}), not a path')
      .optional(),
    google_groups: z.object({ service_account_json_path: z.string(), admin_email: z.string() }).strict().optional(),
    /** Tollgate extension: permit an http:// or loopback issuer (development and tests only). */
    allow_insecure_issuer: z.boolean().default(false),
  })
  .strict();

const upstreamHeaders = z.record(z.string(), z.string()).optional();

const anthropicUpstream = z
  .object({
    name: z.string().optional(),
    provider: z.literal('anthropic'),
    base_url: url.optional(),
    auth: z
      .object({
        api_key: z.string().optional(),
        oauth_token: z.string().optional(),
        federation_rule_id: z.string().optional(),
        organization_id: z.string().optional(),
        identity_token_file: z.string().optional(),
        workspace_id: z.string().optional(),
        service_account_id: z.string().optional(),
      })
      .strict()
      .default({}),
    forward_user_identity: z.boolean().default(false),
    headers: upstreamHeaders,
  })
  .strict();

const bedrockUpstream = z
  .object({
    name: z.string().optional(),
    provider: z.literal('bedrock'),
    region: z.string().min(1),
    base_url: url.optional(),
    auth: z
      .object({
        aws_access_key_id: z.string().optional(),
        aws_secret_access_key: z.string().optional(),
        aws_session_token: z.string().optional(),
        aws_bearer_token: z.string().optional(),
      })
      .strict()
      .default({})
      .refine(
        (a) => (a.aws_access_key_id === undefined) === (a.aws_secret_access_key === undefined),
        'aws_access_key_id and aws_secret_access_key must be set together',
      ),
    guardrail: z.object({ id: z.string(), version: z.string() }).strict().optional(),
    assume_role: z
      .object({ role_arn: z.string(), external_id: z.string().optional(), session_name: z.enum(['email', 'sub']).optional() })
      .strict()
      .optional(),
    headers: upstreamHeaders,
  })
  .strict();

const vertexUpstream = z
  .object({
    name: z.string().optional(),
    provider: z.literal('vertex'),
    region: z.string().min(1),
    project_id: z.string().min(1),
    base_url: url.optional(),
    auth: z
      .object({ service_account_json: z.string().optional(), access_token: z.string().optional() })
      .strict()
      .default({}),
    headers: upstreamHeaders,
  })
  .strict();

/** Tollgate extension: the OpenAI API (Responses), passed through for Codex and OpenAI SDK clients. */
const openaiUpstream = z
  .object({
    name: z.string().optional(),
    provider: z.literal('openai'),
    /** Including `/v1`, as OpenAI SDKs take it. */
    base_url: url.default('https://api.openai.com/v1'),
    auth: z.object({ api_key: secretString }).strict(),
    headers: upstreamHeaders,
  })
  .strict();

/** Public Entra ID; sovereign clouds and Azure Stack Hub name their own authority host. */
export const ENTRA_DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';

/**
 * Tollgate extension: an app registration's client credentials, exchanged through @azure/identity
 * for tokens of scope https://cognitiveservices.azure.com/.default (routing/entra-token.ts).
 * `managed_identity` is known so that boot can refuse it with a sentence (config/refused.ts).
 */
const entraIdAuth = z
  .object({
    tenant_id: z.string().min(1).optional(),
    client_id: z.string().min(1).optional(),
    client_secret: secretString.optional(),
    /** A PEM file holding the certificate and its private key (Entra's certificate credential). */
    client_certificate_path: z.string().min(1).optional(),
    managed_identity: z.unknown().optional(),
    authority_host: url
      .refine((u) => u.startsWith('https://'), 'must be an https:// URL (MSAL refuses any other)')
      .default(ENTRA_DEFAULT_AUTHORITY),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.managed_identity !== undefined) return; // refused at boot with its own sentence
    for (const k of ['tenant_id', 'client_id'] as const) {
      if (e[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'is required for a client credential' });
    }
    if ((e.client_secret === undefined) === (e.client_certificate_path === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of client_secret and client_certificate_path' });
    }
  });

/** Tollgate extension: an Azure OpenAI resource (Responses API), one deployment per model. */
const azureOpenaiUpstream = z
  .object({
    name: z.string().optional(),
    provider: z.literal('azure_openai'),
    /** The resource endpoint, e.g. https://my-resource.openai.azure.com */
    endpoint: url,
    api_version: z.string().min(1).default('2025-04-01-preview'),
    /** Model ID clients send → the deployment that serves it; a model without a deployment is not served here. */
    deployments: z.record(z.string(), z.string().min(1)).refine((d) => Object.keys(d).length > 0, 'name at least one model: deployment'),
    auth: z
      .object({ api_key: secretString.optional(), entra_id: entraIdAuth.optional() })
      .strict()
      .refine((a) => (a.api_key === undefined) !== (a.entra_id === undefined), 'set exactly one of auth.api_key and auth.entra_id'),
    headers: upstreamHeaders,
  })
  .strict();

/** Tollgate extension: an in-process simulated model, for trying the gateway offline. Never for production. */
const simulatedUpstream = z
  .object({
    name: z.string().optional(),
    provider: z.literal('simulated'),
    reply: z.string().optional(),
  })
  .strict();

export const upstreamSchema = z.discriminatedUnion('provider', [
  anthropicUpstream,
  bedrockUpstream,
  vertexUpstream,
  simulatedUpstream,
  openaiUpstream,
  azureOpenaiUpstream,
]);
export type UpstreamConfig = z.infer<typeof upstreamSchema>;

const modelSchema = z
  .object({
    id: z.string().min(1),
    label: z.string().optional(),
    description: z.string().optional(),
    upstream_model: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const policyMatch = z
  .object({
    groups: z.array(z.string().min(1, 'a group name cannot be empty')).min(1, 'groups cannot be an empty list').optional(),
    email_domain: z
      .string()
      .regex(/^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, 'must be a domain such as example.com')
      .optional(),
  })
  .strict();

/** The policy document is validated in depth by policy/cli-settings.ts; here it is only an object. */
const policySchema = z
  .object({
    name: z.string().optional(),
    match: policyMatch,
    cli: z.record(z.string(), z.unknown()).optional(),
    settings: z.record(z.string(), z.unknown()).optional(),
    desktop: z.record(z.string(), z.unknown()).optional(),
    /** Tollgate extension: VS Code settings the extension applies to the workspace. */
    vscode: z.record(z.string(), z.unknown()).optional(),
    /** Tollgate extension: OpenAI Codex: model allow-list, profile keys, requirements.toml (protocol/codex.ts). */
    codex: codexPolicySchema.optional(),
  })
  .strict();

export const managedSchema = z
  .object({
    policies: z.array(policySchema).default([]),
    /** Tollgate extension: top-level cli keys newer than Tollgate's list (policy/cli-known-keys.ts), accepted as they are. */
    allow_unknown_cli_keys: z.array(z.string().min(1)).default([]),
  })
  .strict();

const keyEntry = z.object({ id: z.string().min(1), key: z.string().min(32, 'admin keys must be at least 32 characters') }).strict();

export const adminSchema = z
  .object({
    write_keys: z.array(keyEntry).default([]),
    read_keys: z.array(keyEntry).default([]),
    admin_groups: z.array(z.string()).default([]),
    /** Tollgate extension: members get read-only Admin API access (auditors); their audit reads are audited. */
    viewer_groups: z.array(z.string()).default([]),
    blocked_message: z.string().default(''),
    audit_retention_days: z.number().int().min(1).default(365),
    spend_retention_months: z.number().int().min(1).default(13),
    identity_retention_days: z.number().int().min(1).default(90),
    group_limit_mode: z.enum(['min', 'max']).default('min'),
    billing_group_tag: z.string().optional(),
  })
  .strict()
  .refine((a) => {
    const ids = [...a.write_keys, ...a.read_keys].map((k) => k.id);
    return new Set(ids).size === ids.length;
  }, 'admin key ids must be unique across write_keys and read_keys');

export const enforcementSchema = z
  .object({
    fail_closed_on_error: z.boolean().default(false),
    /** Tollgate extension: `hard` reserves worst-case cost before proxying (zero overshoot); `soft` meters after, like the official gateway. */
    mode: z.enum(['hard', 'soft']).default('hard'),
    /**
     * Tollgate extension, hard mode only: `lease` (default) has each replica hold a slice of a
     * capped user's remaining allowance and admit from it in memory; `request` reserves every
     * request's worst case in PostgreSQL before proxying. Both keep recorded spend under the cap.
     */
    reservation: z.enum(['lease', 'request']).default('lease'),
    /**
     * Tollgate extension, hard mode only: near a cap a request is forwarded with `max_tokens`
     * lowered to what the budget left pays for; below this many output tokens it is refused.
     */
    min_output_tokens: z.number().int().min(1).default(1024),
    /**
     * Tollgate extension, hard mode only: near a cap (only there), bound the prompt by the
     * upstream's count_tokens answer (plus a margin) instead of one token per body byte.
     */
    count_tokens_near_cap: z.boolean().default(true),
    /**
     * Tollgate extension, hard mode only: near a cap, a Messages request that fits only with its
     * prompt at the plain input rate (not the cache-write rate) goes out with its cache_control removed.
     */
    drop_cache_control_near_cap: z.boolean().default(true),
    /**
     * Tollgate extension, hard mode: output tokens an OpenAI Responses request reserves when it sets
     * no `max_output_tokens` (Codex never does) and the price file knows no output ceiling for its
     * model (default 128000).
     */
    default_max_output_tokens: z.number().int().min(1).optional(),
  })
  .strict();

const priceOverride = z
  .object({
    upstream: z.string().optional(),
    model: z.string(),
    input: z.number().min(0).optional(),
    output: z.number().min(0).optional(),
    cache_read: z.number().min(0).optional(),
    cache_write: z.number().min(0).optional(),
    cache_write_1h: z.number().min(0).optional(),
    web_search: z.number().min(0).optional(),
  })
  .strict();

export const pricingSchema = z
  .object({
    multiplier: z.number().gt(0).max(10).default(1),
    overrides: z.array(priceOverride).default([]),
  })
  .strict();

const forwardTo = z
  .object({
    url,
    headers: z.record(z.string(), z.string()).default({}),
    metrics: z.boolean().default(true),
    logs: z.boolean().default(false),
    traces: z.boolean().default(false),
    /** Tollgate extension: export the gateway's own metrics here too (default true). */
    gateway_metrics: z.boolean().default(true),
  })
  .strict();

export const telemetrySchema = z
  .object({
    forward_to: z.array(forwardTo).default([]),
    resource_attributes: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const configSchema = z
  .object({
    listen: listenSchema.default({ host: '0.0.0.0', port: 8080, trusted_proxies: [] }),
    oidc: oidcSchema.optional(),
    session: sessionSchema,
    store: storeSchema.default({
      max_connections: 10,
      connect_timeout_seconds: 5,
      readiness_grace_seconds: 0,
      data_dir: './.tollgate/data',
      spool_max_bytes: 256 * 1024 * 1024,
    }),
    upstreams: z.array(upstreamSchema).min(1, 'configure at least one upstream'),
    admin: adminSchema.optional(),
    /** Tollgate extension: the admin console at /console, the Reports API and the rollup tiers behind both. */
    console: z.object({ enabled: z.boolean().default(true) }).strict().optional(),
    /** Tollgate extension: audit sinks (docs/audit.md). */
    audit: auditSchema.optional(),
    enforcement: enforcementSchema.default({ fail_closed_on_error: false, mode: 'hard', reservation: 'lease', min_output_tokens: 1024, count_tokens_near_cap: true, drop_cache_control_near_cap: true }),
    pricing: pricingSchema.default({ multiplier: 1, overrides: [] }),
    auto_include_builtin_models: z.boolean().default(true),
    models: z.array(modelSchema).default([]),
    managed: managedSchema.default({ policies: [], allow_unknown_cli_keys: [] }),
    telemetry: telemetrySchema.optional(),
    access_control: z
      .object({ allow_cidrs: z.array(cidr).default([]), deny_cidrs: z.array(cidr).default([]) })
      .strict()
      .optional(),
    limits: z
      .object({
        max_request_bytes: z.number().int().min(1024).default(32 * 1024 * 1024),
        max_request_header_bytes: z.number().int().min(1024).max(256 * 1024).default(256 * 1024),
        /** Longest request target (path and query) accepted; longer ones get 414 URI_TOO_LONG. */
        max_url_length: z.number().int().min(64).max(256 * 1024).default(8192),
      })
      .strict()
      .default({ max_request_bytes: 32 * 1024 * 1024, max_request_header_bytes: 256 * 1024, max_url_length: 8192 }),
    timeouts: z
      .object({
        upstream_ttfb_ms: z.number().int().min(1).default(120_000),
        // Generous: extended thinking can pause for minutes between pings on some providers.
        upstream_idle_ms: z.number().int().min(1).default(300_000),
        /** A client's whole header block must arrive within this (408 / connection closed). */
        client_headers_ms: z.number().int().min(100).default(10_000),
        /** An upload that sends nothing for this long gets 408 REQUEST_TIMEOUT and is closed. */
        client_body_idle_ms: z.number().int().min(100).default(10_000),
        /** The whole request (headers and body, not the reply) must arrive within this. */
        client_request_ms: z.number().int().min(100).default(300_000),
        /** An idle keep-alive connection is closed after this. */
        keep_alive_ms: z.number().int().min(100).default(10_000),
      })
      .strict()
      .refine((t) => t.client_headers_ms <= t.client_request_ms, 'timeouts.client_headers_ms must not exceed timeouts.client_request_ms')
      .default({ upstream_ttfb_ms: 120_000, upstream_idle_ms: 300_000, client_headers_ms: 10_000, client_body_idle_ms: 10_000, client_request_ms: 300_000, keep_alive_ms: 10_000 }),
    rate_limits: rateLimitsSchema,
    /** Tollgate extension: a built-in development OpenID provider on loopback (npm start). */
    dev_idp: z
      .object({ enabled: z.boolean().default(true), port: port.default(0) })
      .strict()
      .optional(),
    /** Tollgate extension: per-upstream circuit breaker. */
    circuit_breaker: z
      .object({
        failure_threshold: z.number().int().min(1).default(5),
        cooldown_seconds: z.number().min(0).default(30),
      })
      .strict()
      .default({ failure_threshold: 5, cooldown_seconds: 30 }),
  })
  .strict();

export type GatewayConfigInput = z.input<typeof configSchema>;
export type GatewayConfig = z.infer<typeof configSchema>;

function isPemCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

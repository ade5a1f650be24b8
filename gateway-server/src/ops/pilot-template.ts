/**
 * The commented starter gateway.yaml that `tollgate-gateway init` writes: a pilot for 20-50
 * developers on one PostgreSQL, one IdP and the Anthropic API. Every secret is a `${VAR}`
 * reference (the file itself holds none), so it can be committed and mounted read-only.
 * The environment variable names match deploy/kubernetes and deploy/helm.
 */
export const PILOT_ENV_VARS = [
  'GATEWAY_JWT_SECRET',
  'GATEWAY_POSTGRES_URL',
  'OIDC_CLIENT_SECRET',
  'ANTHROPIC_API_KEY',
  'GATEWAY_ADMIN_WRITE_KEY',
] as const;

/** What `init` writes when not told otherwise; `check` fails while any of them is still there. */
export const PILOT_PLACEHOLDERS = {
  publicUrl: 'https://claude-gateway.internal.example.com',
  issuer: 'https://example.okta.com',
  clientId: 'replace-with-your-client-id',
  emailDomain: 'example.com',
} as const;

export function pilotTemplate(opts: { publicUrl?: string; issuer?: string; clientId?: string; emailDomain?: string } = {}): string {
  const publicUrl = opts.publicUrl ?? PILOT_PLACEHOLDERS.publicUrl;
  const issuer = opts.issuer ?? PILOT_PLACEHOLDERS.issuer;
  const clientId = opts.clientId ?? PILOT_PLACEHOLDERS.clientId;
  const domain = opts.emailDomain ?? PILOT_PLACEHOLDERS.emailDomain;
  return `# Tollgate gateway: starter configuration for a pilot of 20-50 developers.
# Written by \`tollgate-gateway init\`. Key names follow Anthropic's Claude apps gateway, so this
# file also documents what the official gateway would read; keys marked "Tollgate" are ours.
#
# Secrets are never written here: each \${VAR} below must be set in the gateway's environment
# (a Kubernetes Secret, systemd EnvironmentFile, ...). \${file:/path} reads a mounted file instead.
#   GATEWAY_JWT_SECRET       signs session tokens; 32+ random bytes:  openssl rand -hex 32
#   GATEWAY_POSTGRES_URL     postgresql://tollgate:...@db.internal:5432/tollgate (PostgreSQL 14+)
#   OIDC_CLIENT_SECRET       from your IdP's app registration (docs/identity.md)
#   ANTHROPIC_API_KEY        the organisation's API key; developers never see it
#   GATEWAY_ADMIN_WRITE_KEY  for the spend-limit admin API; 32+ characters
#
# Check it without starting anything:   tollgate-gateway check --config gateway.yaml
# Then start:                           tollgate-gateway --config gateway.yaml

listen:
  host: 0.0.0.0
  port: 8080
  # The URL developers sign in to. It must resolve to private addresses only (Claude Code
  # refuses a public gateway) and every replica must serve the same TLS leaf certificate.
  public_url: ${publicUrl}
  # Terminate TLS here, or at your ingress / load balancer (then leave this out):
  # tls: { cert: /etc/tollgate/tls/tls.crt, key: /etc/tollgate/tls/tls.key }
  # Peers whose X-Forwarded-For is believed (your ingress):
  # trusted_proxies: [10.0.0.0/8]

session:
  jwt_secret: \${GATEWAY_JWT_SECRET}   # rotate with a list: [new, old], then drop old after ttl_hours
  ttl_hours: 1                        # refresh is silent; shorter = faster offboarding

store:
  # One PostgreSQL shared by every replica. Without postgres_url the gateway uses an embedded
  # store in data_dir, which is for a single process on one machine only.
  postgres_url: \${GATEWAY_POSTGRES_URL}
  max_connections: 10                 # per replica; 10 serves ~50 developers comfortably
  connect_timeout_seconds: 5
  readiness_grace_seconds: 30         # stay ready through a short database failover
  # Past a pilot (docs/scaling.md): behind a transaction-pooling PgBouncer, keep notifications on a
  # direct connection; send audit queries and spend summaries to a read replica.
  # listen_url: \${GATEWAY_POSTGRES_DIRECT_URL}
  # read_url: \${GATEWAY_POSTGRES_REPLICA_URL}

oidc:
  issuer: ${issuer}
  client_id: ${clientId}
  client_secret: \${OIDC_CLIENT_SECRET}
  # Redirect URI to register at the IdP: <public_url>/oauth/callback
  allowed_email_domains: [${domain}]
  groups_claim: groups                # group names drive policies and spend caps
  # allowed_groups: [claude-pilot]    # uncomment to limit the pilot to one IdP group

upstreams:
  - name: anthropic
    provider: anthropic
    auth:
      api_key: \${ANTHROPIC_API_KEY}
  # A second upstream is tried when the first fails (429/5xx/unreachable), e.g. Bedrock:
  # - name: bedrock
  #   provider: bedrock
  #   region: us-east-1

# Which models each group may use, and Claude Code settings pushed to every developer.
# The first policy whose match fits wins; match: {} is the catch-all.
managed:
  policies:
    - name: pilot
      match: {}
      cli:
        availableModels: [claude-sonnet-4-6, claude-haiku-4-5]
        env:
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"

# The admin block turns on spend metering, hard caps and the admin API
# (POST /v1/organizations/spend_limits with x-api-key). Caps are set through the API, e.g.
#   curl -X POST $URL/v1/organizations/spend_limits -H "x-api-key: $GATEWAY_ADMIN_WRITE_KEY" \\
#     -d '{"scope":{"type":"organization"},"amount":"5000","period":"monthly"}'   # $50 per developer per month
admin:
  write_keys:
    - id: platform-team
      key: \${GATEWAY_ADMIN_WRITE_KEY}
  # admin_groups: [claude-admins]     # IdP group whose members may use the admin API by bearer
  blocked_message: "ask #claude-pilot to raise your limit"   # quoted: an unquoted " #" starts a YAML comment

enforcement:
  mode: hard                          # Tollgate: reserve before proxying, so caps are never overshot
  fail_closed_on_error: false         # true = refuse inference while the database is unreachable

# Only these client networks may reach the gateway (probes are exempt). Private ranges by default.
access_control:
  allow_cidrs: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7]

limits:
  max_request_bytes: 33554432         # 32 MiB, as Claude Code's largest requests
timeouts:
  upstream_ttfb_ms: 120000
`;
}

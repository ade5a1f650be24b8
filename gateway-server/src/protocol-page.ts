/**
 * GET /protocol: the wire contract this gateway serves, as markdown, the way Anthropic's gateway
 * publishes its own (claude-apps-gateway-spec.md §9). Generated from what is actually running:
 * the routes Fastify registered, the error catalogue and the usage-limit header names, so it
 * cannot drift from the code. A unit test fails when a route has no entry in ROUTE_DOCS.
 */
import { ERRORS } from './errors';
import { USAGE_HEADERS } from './spend/standing';

type Auth = 'public' | 'bearer' | 'admin' | 'bearer or admin' | 'browser';

/** Every route the gateway may register (features add theirs only when configured). */
export const ROUTE_DOCS: Record<string, { auth: Auth; what: string }> = {
  'GET /': { auth: 'public', what: 'Landing page with the version' },
  'GET /protocol': { auth: 'public', what: 'This document' },
  'GET /healthz': { auth: 'public', what: 'Liveness: `ok`' },
  'GET /readyz': { auth: 'public', what: 'Readiness: `ready`, or 503 when the store is unreachable' },
  'GET /.well-known/oauth-authorization-server': { auth: 'public', what: 'RFC 8414 metadata: device authorization, token and revocation endpoints' },
  'POST /oauth/device_authorization': { auth: 'public', what: 'RFC 8628 device authorization: `device_code`, `user_code`, `verification_uri(_complete)`, `interval`' },
  'POST /oauth/token': { auth: 'public', what: 'Device-code grant (poll) and `refresh_token` grant; RFC 6749 errors (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`, `invalid_grant`)' },
  'POST /oauth/revoke': { auth: 'public', what: 'RFC 7009 revocation of a session or refresh token' },
  'GET /device': { auth: 'browser', what: 'Verification page: enter or confirm the user code' },
  'POST /device': { auth: 'browser', what: 'Confirm the code and continue to the identity provider (same-origin only)' },
  'POST /device/deny': { auth: 'browser', what: 'Refuse the sign-in request' },
  'GET /oauth/callback': { auth: 'browser', what: 'OpenID Connect redirect: code exchange, id_token checks, policy gates' },
  'POST /v1/messages': { auth: 'bearer', what: 'Anthropic Messages API, JSON or SSE, relayed to the configured upstreams with failover; model allow-list and spend caps enforced' },
  'POST /v1/messages/count_tokens': { auth: 'bearer', what: 'Token counting; never blocked by spend caps' },
  'POST /v1/responses': { auth: 'bearer', what: 'OpenAI Responses API (Codex, OpenAI SDKs), JSON or SSE, passed through to `openai` / `azure_openai` upstreams with failover; `codex.availableModels` and spend caps enforced; errors in the OpenAI envelope' },
  'GET /v1/responses': { auth: 'public', what: '426: WebSocket upgrades are not served; Codex falls back to HTTP at once' },
  'GET /v1/models': { auth: 'bearer', what: "Models the caller's policy allows (`limit`, `after_id`, `before_id`); one body for Claude Code, OpenAI SDKs (`object: list`) and Codex (`models: []`)" },
  'GET /managed/codex': { auth: 'bearer', what: "The caller's `codex:` policy block `{checksum, availableModels, config, requirements}`; ETag / If-None-Match → 304" },
  'GET /managed/settings': { auth: 'bearer', what: "The caller's managed settings `{uuid, checksum, settings}`; ETag / If-None-Match → 304; 404 when no policy matches" },
  'GET /user/bootstrap': { auth: 'bearer', what: "Claude Desktop's configuration for policies with a `desktop:` block; 404 otherwise" },
  'GET /api/oauth/usage': { auth: 'bearer', what: "The caller's spend against their caps (the body Claude Code's `/usage` reads)" },
  'POST /v1/metrics': { auth: 'bearer', what: 'OTLP/HTTP metrics, relayed to `telemetry.forward_to` destinations with `metrics: true` (the default)' },
  'POST /v1/logs': { auth: 'bearer', what: 'OTLP/HTTP logs, relayed to `telemetry.forward_to` destinations with `logs: true`' },
  'POST /v1/traces': { auth: 'bearer', what: 'OTLP/HTTP traces, relayed to `telemetry.forward_to` destinations with `traces: true`' },
  'GET /v1/me': { auth: 'bearer', what: 'Tollgate: who the caller is, their policy, models and VS Code settings' },
  'GET /v1/me/requests': { auth: 'bearer', what: "Tollgate: the caller's recent requests with what each was charged" },
  'GET /v1/organizations/spend_limits': { auth: 'bearer or admin', what: 'List caps (`scope_type`, `limit`, `after_id`, `before_id`)' },
  'POST /v1/organizations/spend_limits': { auth: 'bearer or admin', what: 'Create or replace the cap for a scope and period' },
  'GET /v1/organizations/spend_limits/effective': { auth: 'bearer or admin', what: 'Resolved cap and period-to-date spend per principal' },
  'GET /v1/organizations/spend_limits/audit': { auth: 'bearer or admin', what: 'Admin mutation trail, newest first' },
  'GET /v1/organizations/spend_limits/:id': { auth: 'bearer or admin', what: 'One cap' },
  'DELETE /v1/organizations/spend_limits/:id': { auth: 'bearer or admin', what: 'Delete a cap' },
  'GET /v1/organizations/audit': { auth: 'bearer or admin', what: 'Tollgate: the audit trail, filtered and paged, or exported as JSONL' },
  'GET /v1/organizations/upstreams': { auth: 'bearer or admin', what: "Tollgate: each upstream's circuit-breaker state" },
  'GET /v1/organizations/reports/spend': { auth: 'bearer or admin', what: 'Tollgate: spend (micro-dollars and exact dollars) by `group_by=user|group|model|upstream` over `from`..`to` in `bucket=day|week|month|none` of zone `tz`; JSON, or CSV with `format=csv` / `Accept: text/csv` (docs/console.md)' },
  'GET /v1/organizations/reports/usage': { auth: 'bearer or admin', what: 'Tollgate: requests, errors and tokens by kind (input, output, cache write, cache read), same parameters as the spend report' },
  'POST /v1/organizations/users/:user_id/sessions/revoke': { auth: 'bearer or admin', what: "Tollgate: end every session of a user, on every replica" },
  // The admin console (docs/console.md): pages for people signed in through the IdP (console cookie; admin_groups act, viewer_groups look).
  'GET /console': { auth: 'browser', what: 'Tollgate console: overview (spend over time, tokens by kind, upstream health)' },
  'GET /console/login': { auth: 'browser', what: 'Tollgate console: sign in through the IdP (authorization code + PKCE)' },
  'GET /console/callback': { auth: 'browser', what: "Tollgate console: the IdP's redirect back after sign-in" },
  'POST /console/logout': { auth: 'browser', what: 'Tollgate console: sign out, revoking the cookie\'s session (CSRF token)' },
  'GET /console/users': { auth: 'browser', what: 'Tollgate console: users, their spend against the cap that applies, last seen and sessions' },
  'POST /console/users/cap': { auth: 'browser', what: 'Tollgate console: set or clear a user cap (admins; CSRF token)' },
  'POST /console/users/revoke': { auth: 'browser', what: "Tollgate console: end every session of a user (admins; CSRF token)" },
  'GET /console/groups': { auth: 'browser', what: 'Tollgate console: policies as merged, their groups and spend' },
  'GET /console/caps': { auth: 'browser', what: 'Tollgate console: caps, with the effect of a change shown before saving' },
  'POST /console/caps': { auth: 'browser', what: 'Tollgate console: create or edit a cap in dollars (admins; CSRF token)' },
  'POST /console/caps/delete': { auth: 'browser', what: 'Tollgate console: delete a cap (admins; CSRF token)' },
  'GET /console/audit': { auth: 'browser', what: 'Tollgate console: audit rows filtered by user, outcome, event, model, upstream and time (filters in the URL)' },
  'GET /console/audit/export': { auth: 'browser', what: 'Tollgate console: every filtered audit row as JSONL or CSV, streamed' },
  'GET /console/audit/verify': { auth: 'browser', what: 'Tollgate console: verify the audit hash chain of a time range (since/until) or the whole log' },
  'GET /console/upstreams': { auth: 'browser', what: 'Tollgate console: upstreams, health, breaker state, models and prices' },
  'GET /console/setup': { auth: 'browser', what: "Tollgate console: set-up snippets with this gateway's URL" },
};

const AUTH_TEXT: Record<Auth, string> = {
  public: 'none',
  browser: 'none (a person in a browser)',
  bearer: '`Authorization: Bearer <session>`',
  admin: '`x-api-key` admin key',
  'bearer or admin': '`x-api-key` admin key, or a bearer in `admin.admin_groups` (GET also `admin.viewer_groups`)',
};

const USAGE_HEADER_MEANING: Record<keyof typeof USAGE_HEADERS, string> = {
  status: '`allowed`, `allowed_warning` (past 75 % or 95 %), or `rejected` on the 429',
  claim: '`overage`: the caps are spend caps',
  overageStatus: 'Same as status',
  utilization: 'Fraction of the fullest cap spent before this request (two decimals, at most 0.99 when allowed; `1` on the 429)',
  reset: 'Unix seconds when that cap resets (UTC calendar boundaries)',
  overageReset: 'Same as reset',
  threshold: '`0.75` or `0.95` once passed; `1` on the 429',
  period: 'On the 429: `daily`, `weekly` or `monthly`, the cap that refused',
  disabledReason: 'On the 429: `org_spend_cap_reached`; `fetch_error` when caps could not be read and the gateway fails closed',
};

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderProtocolPage(opts: { version: string; publicUrl: string; routes: readonly string[] }): string {
  const routes = [...new Set(opts.routes)].sort((a, b) => a.split(' ')[1]!.localeCompare(b.split(' ')[1]!) || a.localeCompare(b));
  const lines = [
    `# Tollgate gateway protocol (${opts.version})`,
    '',
    `This gateway at \`${opts.publicUrl}\` speaks the Claude Code gateway protocol: clients sign in with an RFC 8628 device grant,`,
    'send Anthropic Messages API requests with the session as a bearer token, fetch managed settings and send OTLP telemetry here.',
    'The gateway holds the upstream credentials; clients never see them. This page is generated from the running gateway.',
    '',
    '## Routes',
    '',
    '| Method and path | Authentication | What it does |',
    '|---|---|---|',
    ...routes.map((r) => {
      const d = ROUTE_DOCS[r];
      return `| \`${r}\` | ${d ? AUTH_TEXT[d.auth] : '?'} | ${cell(d?.what ?? '')} |`;
    }),
    '',
    '## Sessions',
    '',
    'Access tokens are HS256 JWTs (`sub`, `email`, `name`, `groups`, `aud`, `iat`, `exp`, `iss`) valid for `session.ttl_hours`;',
    'refresh tokens are sealed (JWE) and re-check the identity provider, so offboarding there ends access at the next refresh.',
    'A 401 carries `x-should-retry: false` when the session expired or was revoked: sign in again.',
    '',
    '## Errors',
    '',
    'Bearer and admin routes answer `{"type":"error","error":{"type":…,"message":…},"request_id":…}`; `/v1/responses` answers',
    'OpenAI\'s `{"error":{"message":…,"type":…,"param":null,"code":…}}` (docs/agents.md); OAuth routes answer',
    'RFC 6749 `{"error":…,"error_description":…}`. Upstream errors pass through unchanged. Every response carries `request-id`',
    'and `x-request-id` (a valid `x-client-request-id` is echoed). The gateway\'s own errors:',
    '',
    '| Code | HTTP | `error.type` | Retry | Default message |',
    '|---|---|---|---|---|',
    ...Object.entries(ERRORS).map(
      ([code, e]) => `| \`${code}\` | ${e.status} | \`${e.type}\` | ${'noRetry' in e && e.noRetry ? '`x-should-retry: false`' : ''} | ${cell(e.message)} |`,
    ),
    '',
    '## Usage-limit headers',
    '',
    'Successful responses to a caller with a spend cap describe the fullest of their own caps; an uncapped caller gets none,',
    'and the upstream\'s own rate-limit headers are always removed. A refused request is `429` with `error.type`',
    '`billing_error`, `x-should-retry: false` and `retry-after` (seconds to the reset).',
    '',
    '| Header | Meaning |',
    '|---|---|',
    ...(Object.keys(USAGE_HEADERS) as (keyof typeof USAGE_HEADERS)[]).map((k) => `| \`${USAGE_HEADERS[k]}\` | ${cell(USAGE_HEADER_MEANING[k])} |`),
    '',
    '## More',
    '',
    'Configuration, policies, spend caps, routing and operations: the `docs/` folder of the Tollgate repository.',
    '',
  ];
  return lines.join('\n');
}

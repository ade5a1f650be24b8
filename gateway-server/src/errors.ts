/**
 * One catalogue of error codes, one renderer. Code matches on `code`, never on message text.
 * Bearer and admin routes render the Anthropic envelope; OAuth routes render RFC 6749's
 * `{error, error_description}`. docs/errors.md lists every code; a unit test keeps the two in step.
 */

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'billing_error'
  | 'not_supported'
  | 'api_error'
  | 'overloaded_error';

interface CatalogueEntry {
  status: number;
  type: AnthropicErrorType;
  /** Default text; shown to clients. Internal details never go here. */
  message: string;
  /** Sets `x-should-retry: false` so clients stop retrying at once. */
  noRetry?: boolean;
}

export const ERRORS = {
  AUTH_MISSING: { status: 401, type: 'authentication_error', message: 'missing bearer token: sign in to the gateway (Claude Code: /login)' },
  AUTH_INVALID: { status: 401, type: 'authentication_error', message: 'invalid token: sign in to the gateway again (Claude Code: /login)', noRetry: true },
  AUTH_EXPIRED: { status: 401, type: 'authentication_error', message: 'session expired: sign in to the gateway again (Claude Code: /login)', noRetry: true },
  AUTH_REVOKED: { status: 401, type: 'authentication_error', message: 'session revoked: sign in to the gateway again (Claude Code: /login)', noRetry: true },
  HEADER_TOO_LARGE: { status: 431, type: 'invalid_request_error', message: 'request headers too large', noRetry: true },
  LENGTH_REQUIRED: { status: 411, type: 'invalid_request_error', message: 'length required' },
  BODY_TOO_LARGE: { status: 413, type: 'request_too_large', message: 'request body exceeds the gateway limit (limits.max_request_bytes)' },
  INVALID_JSON: { status: 400, type: 'invalid_request_error', message: 'invalid JSON' },
  MODEL_REQUIRED: { status: 400, type: 'invalid_request_error', message: 'model is required' },
  MODEL_NOT_STRING: { status: 400, type: 'invalid_request_error', message: 'model must be a string' },
  MODEL_NOT_ALLOWED: { status: 400, type: 'invalid_request_error', message: 'model is not allowed' },
  MODEL_NOT_CONFIGURED: { status: 400, type: 'invalid_request_error', message: 'model is not configured on any upstream' },
  FORBIDDEN: { status: 403, type: 'permission_error', message: 'not permitted' },
  NETWORK_NOT_ALLOWED: {
    status: 403,
    type: 'permission_error',
    message: "this gateway does not accept connections from your network address; connect through your organisation's network (VPN) or ask your administrator",
    noRetry: true,
  },
  NOT_FOUND: { status: 404, type: 'not_found_error', message: 'not found' },
  SPEND_LIMIT_REACHED: { status: 429, type: 'billing_error', message: 'spend limit reached', noRetry: true },
  SPEND_UNAVAILABLE: { status: 429, type: 'billing_error', message: 'spend limit unavailable', noRetry: true },
  RATE_LIMITED: { status: 429, type: 'rate_limit_error', message: 'too many requests' },
  NOT_SUPPORTED: { status: 501, type: 'not_supported', message: 'not supported by this upstream', noRetry: true },
  UPSTREAM_TIMEOUT: { status: 504, type: 'api_error', message: 'upstream did not answer in time' },
  UPSTREAM_IDLE_TIMEOUT: { status: 504, type: 'api_error', message: 'upstream sent nothing for too long (timeouts.upstream_idle_ms); retry the request' },
  ALL_UPSTREAMS_FAILED: { status: 502, type: 'api_error', message: 'all upstreams failed' },
  UPSTREAM_CREDENTIAL_UNAVAILABLE: {
    status: 502,
    type: 'api_error',
    message: "the gateway could not obtain its credential for the upstream (an Entra ID token for Azure OpenAI): retry shortly; operators: see the gateway log",
  },
  UPSTREAM_OVERLOADED: { status: 529, type: 'overloaded_error', message: 'upstream overloaded' },
  STORE_UNAVAILABLE: { status: 503, type: 'api_error', message: 'store unavailable' },
  STORE_UNREACHABLE: { status: 503, type: 'api_error', message: "the gateway cannot reach its database yet: retry in a few seconds (operators: check store.postgres_url and GET /readyz)" },
  SPEND_STORE_UNREACHABLE: { status: 503, type: 'api_error', message: "spend limits cannot be checked while the gateway's database is unreachable: retry in a few seconds" },
  AUDIT_SPOOL_FULL: { status: 503, type: 'api_error', message: "the gateway cannot record requests (database unreachable and audit spool full): retry in a few seconds" },
  DRAINING: { status: 503, type: 'overloaded_error', message: 'gateway is restarting; retry shortly' },
  INVALID_REQUEST: { status: 400, type: 'invalid_request_error', message: 'invalid request' },
  INVALID_TEXT: { status: 400, type: 'invalid_request_error', message: 'text contains a NUL character or an unpaired UTF-16 surrogate', noRetry: true },
  JSON_DUPLICATE_KEY: { status: 400, type: 'invalid_request_error', message: 'the request body repeats a top-level key: send each key once', noRetry: true },
  JSON_TOO_DEEP: { status: 400, type: 'invalid_request_error', message: 'the request body nests JSON deeper than the gateway accepts (128 levels)', noRetry: true },
  MALFORMED_HTTP: { status: 400, type: 'invalid_request_error', message: 'malformed HTTP request', noRetry: true },
  EXPECTATION_FAILED: { status: 417, type: 'invalid_request_error', message: 'unsupported Expect header: send the body without Expect, or use Expect: 100-continue', noRetry: true },
  REQUEST_TIMEOUT: { status: 408, type: 'invalid_request_error', message: 'the request was not received in time: send headers and body without pausing' },
  URI_TOO_LONG: { status: 414, type: 'invalid_request_error', message: 'request URL too long (limits.max_url_length)', noRetry: true },
  WEBSOCKET_NOT_SUPPORTED: {
    status: 426,
    type: 'invalid_request_error',
    message: 'this gateway serves the Responses API over HTTP only: set supports_websockets = false for this provider',
    noRetry: true,
  },
  INTERNAL: { status: 500, type: 'api_error', message: 'internal error' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * An error meant for the client. `expose` (as in oidc-provider) is implicit: only `message`
 * goes on the wire; `cause` and `detail` go to the operator log.
 */
export class GatewayError extends Error {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly noRetry: boolean;
  headers: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    opts: { cause?: unknown; headers?: Record<string, string>; detail?: string; status?: number } = {},
  ) {
    const entry: CatalogueEntry = ERRORS[code];
    super(message ?? entry.message, { cause: opts.cause });
    this.name = 'GatewayError';
    this.status = opts.status ?? entry.status;
    this.type = entry.type;
    this.noRetry = entry.noRetry ?? false;
    this.headers = opts.headers ?? {};
    this.detail = opts.detail;
  }
  detail: string | undefined;
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

export function anthropicErrorBody(type: string, message: string, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type, message } };
  if (requestId) body.request_id = requestId;
  return body;
}

/** Status, headers and body for an error on a bearer or admin route. */
export function renderAnthropicError(err: GatewayError, requestId?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...err.headers };
  if (err.noRetry) headers['x-should-retry'] = 'false';
  return { status: err.status, headers, body: anthropicErrorBody(err.type, err.message, requestId) };
}

/**
 * The OpenAI error envelope `{error: {message, type, param, code}}` for OpenAI-family routes
 * (/v1/responses), chosen for how Codex 0.171 treats each answer (docs/agents.md):
 *   - 401 `invalid_api_key`: Codex re-runs its auth command once and retries with the new token.
 *   - 400: never retried and printed raw, so a policy denial's sentence reaches the developer.
 *   - a cap: 429 `insufficient_quota` stops Codex at once (a plain 429 is retried five times and
 *     the message lost); the message says what is left and when the cap resets, for SDK callers
 *     and for the raw body Codex logs.
 */
const OPENAI_SHAPE: Partial<Record<ErrorCode, { type: string; code: string; message?: string }>> = {
  AUTH_MISSING: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'missing bearer token: sign in to the gateway (tollgate login)' },
  AUTH_INVALID: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'invalid token: sign in to the gateway again (tollgate login)' },
  AUTH_EXPIRED: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'session expired: sign in to the gateway again (tollgate login)' },
  AUTH_REVOKED: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'session revoked: sign in to the gateway again (tollgate login)' },
  SPEND_LIMIT_REACHED: { type: 'insufficient_quota', code: 'insufficient_quota' },
  SPEND_UNAVAILABLE: { type: 'insufficient_quota', code: 'insufficient_quota' },
  MODEL_NOT_ALLOWED: { type: 'invalid_request_error', code: 'model_not_allowed' },
  MODEL_NOT_CONFIGURED: { type: 'invalid_request_error', code: 'model_not_found' },
  RATE_LIMITED: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' },
};

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: null; code: string };
}

/** Status, headers and body for an error on an OpenAI-family route. */
export function renderOpenAIError(err: GatewayError) {
  const shape = OPENAI_SHAPE[err.code];
  const type = shape?.type ?? (err.status >= 500 ? 'server_error' : 'invalid_request_error');
  // The catalogue's default text names Claude Code's sign-in; a custom message is kept as is.
  const message = shape?.message && err.message === ERRORS[err.code].message ? shape.message : err.message;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...err.headers };
  if (err.noRetry) headers['x-should-retry'] = 'false';
  const body: OpenAIErrorBody = { error: { message, type, param: null, code: shape?.code ?? err.code.toLowerCase() } };
  return { status: err.status, headers, body };
}

export type OAuthErrorCode =
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'invalid_request'
  | 'temporarily_unavailable'
  | 'server_error';

export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly status: number,
    readonly description?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description ?? error);
    this.name = 'OAuthError';
  }
}

export function renderOAuthError(err: OAuthError) {
  const body: { error: string; error_description?: string } = { error: err.error };
  if (err.description) body.error_description = err.description;
  return {
    status: err.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache', ...err.headers },
    body,
  };
}

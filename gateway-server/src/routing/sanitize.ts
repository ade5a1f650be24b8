/**
 * Error sanitisation for cloud upstreams. Provider error text can name account IDs, role ARNs
 * and project numbers, so clients get a generic sentence that keeps the status and error.type,
 * except for the few messages clients act on: Anthropic-envelope 400/413 messages (Claude Code's
 * auto-compaction keys on `prompt is too long`) and the clouds' too-long sentences.
 */

export interface SanitizedError {
  status: number;
  type: string;
  message: string;
}

const GENERIC: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'upstream rejected the request'],
  401: ['authentication_error', "upstream rejected the gateway's credentials"],
  403: ['permission_error', 'upstream denied the request'],
  404: ['not_found_error', 'model not available on this upstream'],
  408: ['api_error', 'upstream timed out'],
  413: ['request_too_large', 'request too large for this upstream'],
  429: ['rate_limit_error', 'upstream rate limit exceeded'],
  503: ['overloaded_error', 'upstream overloaded'],
  529: ['overloaded_error', 'upstream overloaded'],
};

export const INPUT_TOO_LONG = 'Input is too long.';
const VERTEX_SIZE_SENTENCE = /request payload size exceeds the limit/i;

function genericFor(status: number): [string, string] {
  return GENERIC[status] ?? (status >= 500 ? ['api_error', 'upstream error'] : ['invalid_request_error', 'upstream rejected the request']);
}

interface ParsedError {
  anthropic?: { type: string; message: string };
  /** Bedrock `{"message": …}` / `{"Message": …}`, Google `{"error": {"message": …}}`. */
  text?: string;
}

function parse(bodyText: string): ParsedError {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    return {};
  }
  if (!json || typeof json !== 'object') return {};
  const o = json as Record<string, unknown>;
  const err = o.error as Record<string, unknown> | undefined;
  if (o.type === 'error' && err && typeof err.type === 'string' && typeof err.message === 'string') {
    return { anthropic: { type: err.type, message: err.message }, text: err.message };
  }
  if (err && typeof err === 'object' && typeof err.message === 'string') return { text: err.message };
  const m = o.message ?? o.Message;
  return typeof m === 'string' ? { text: m } : {};
}

export function sanitizeCloudError(provider: 'bedrock' | 'vertex', status: number, bodyText: string): SanitizedError {
  const parsed = parse(bodyText);
  const [genericType, genericMessage] = genericFor(status);
  if (parsed.anthropic && (status === 400 || status === 413)) return { status, ...parsed.anthropic };
  if (status === 400 || status === 413) {
    if (provider === 'bedrock' && parsed.text === INPUT_TOO_LONG) return { status, type: genericType, message: INPUT_TOO_LONG };
    if (provider === 'vertex' && parsed.text && VERTEX_SIZE_SENTENCE.test(parsed.text)) {
      return { status, type: genericType, message: INPUT_TOO_LONG };
    }
  }
  return { status, type: parsed.anthropic?.type ?? genericType, message: genericMessage };
}

/** Mid-stream Bedrock exception events (`:exception-type`) as an Anthropic error type. */
export function bedrockExceptionType(exceptionType: string): string {
  const t = exceptionType.toLowerCase();
  if (t.startsWith('throttling')) return 'rate_limit_error';
  if (t.startsWith('serviceunavailable') || t.startsWith('modelnotready')) return 'overloaded_error';
  if (t.startsWith('validation')) return 'invalid_request_error';
  return 'api_error';
}

/** The HTTP status Bedrock would have used for an exception that arrived as a stream frame. */
export function bedrockExceptionStatus(exceptionType: string): number {
  switch (bedrockExceptionType(exceptionType)) {
    case 'rate_limit_error':
      return 429;
    case 'overloaded_error':
      return 503;
    case 'invalid_request_error':
      return 400;
    default:
      return 500;
  }
}

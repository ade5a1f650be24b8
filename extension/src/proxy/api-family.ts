/**
 * Which API family a request through the loopback proxy belongs to, so the proxy's own answers
 * come in the shape that agent shows well: Claude Code speaks the Anthropic Messages API,
 * Codex the OpenAI Responses API (`/v1/responses`, and `/v1/models` without Anthropic's
 * version header). Pure: no `vscode`.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type ApiFamily = 'anthropic' | 'openai';

export function apiFamily(url: string, headers: IncomingHttpHeaders): ApiFamily {
  const path = url.split('?')[0] ?? '/';
  if (path === '/v1/responses' || path.startsWith('/v1/responses/')) return 'openai';
  if (path === '/v1/models' && headers['anthropic-version'] === undefined) return 'openai';
  return 'anthropic';
}

/**
 * OpenAI's error envelope. Codex re-runs its auth command after a 401 `invalid_api_key` and
 * prints the message when that does not help; 5xx it retries quietly.
 */
export function openAiError(status: number, message: string): { error: { message: string; type: string; param: null; code: string | null } } {
  if (status === 401) return { error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
  return { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null } };
}

export function firstString(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string');
}

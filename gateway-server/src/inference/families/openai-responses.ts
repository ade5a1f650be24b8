/**
 * The OpenAI Responses API family: POST /v1/responses (Codex, OpenAI SDKs). Codex identifies
 * itself with `originator` and sends `session-id`, `thread-id` and `x-codex-turn-metadata` (JSON
 * with ids and `request_kind`, no prompt text); the audit row keeps the ids and the kind only.
 */
import { renderOpenAIError } from '../../errors';
import { openaiForwardableHeaders } from '../../routing/openai';
import { headerString, userAgentFamily, type ApiFamily, type ClientInfo } from '../family';
import { ResponsesUsageTap } from '../responses-usage-tap';

/** Header values that may go into an audit row: short, printable, no spaces. */
const ID = /^[\x21-\x7e]{1,128}$/;
const KIND = /"request_kind"\s*:\s*"([a-z_]{1,32})"/;

function client(raw: Record<string, string | string[] | undefined>): ClientInfo {
  const originator = headerString(raw.originator);
  const info: ClientInfo = { surface: originator && ID.test(originator) ? originator : userAgentFamily(raw) };
  const session = headerString(raw['session-id']) ?? headerString(raw.session_id);
  if (session && ID.test(session)) info.sessionId = session;
  const thread = headerString(raw['thread-id']);
  const kind = KIND.exec(headerString(raw['x-codex-turn-metadata'])?.slice(0, 4096) ?? '')?.[1];
  if ((thread && ID.test(thread)) || kind) {
    info.detail = {};
    if (thread && ID.test(thread)) info.detail.thread_id = thread;
    if (kind) info.detail.request_kind = kind;
  }
  return info;
}

export const openaiResponses: ApiFamily = {
  name: 'openai',
  routes: [{ path: '/v1/responses', operation: 'responses' }],
  operationOf: () => 'responses',
  charged: () => true,
  isStream: (_operation, body) => body.stream === true,
  usageReader: (stream) => new ResponsesUsageTap(stream),
  forwardableHeaders: openaiForwardableHeaders,
  client,
  renderError(err) {
    const r = renderOpenAIError(err);
    return { status: r.status, headers: r.headers, body: JSON.stringify(r.body) };
  },
  streamErrorEvent: (err) => {
    const e = renderOpenAIError(err).body.error;
    return `event: error\ndata: ${JSON.stringify({ type: 'error', code: e.code, message: e.message, param: null })}\n\n`;
  },
};

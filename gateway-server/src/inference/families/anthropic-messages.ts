/** The Anthropic Messages API family: POST /v1/messages and /v1/messages/count_tokens. */
import { renderAnthropicError } from '../../errors';
import { forwardableHeaders } from '../../routing/upstream';
import { headerString, userAgentFamily, type ApiFamily } from '../family';
import { UsageTap } from '../usage-tap';

export const anthropicMessages: ApiFamily = {
  name: 'anthropic',
  routes: [
    { path: '/v1/messages', operation: 'messages' },
    { path: '/v1/messages/count_tokens', operation: 'count_tokens' },
  ],
  operationOf: (url) => (url.startsWith('/v1/messages/count_tokens') ? 'count_tokens' : 'messages'),
  charged: (operation) => operation === 'messages',
  isStream: (operation, body) => operation === 'messages' && body.stream === true,
  usageReader: (stream) => new UsageTap(stream),
  forwardableHeaders,
  client: (raw) => ({ surface: userAgentFamily(raw), sessionId: headerString(raw['x-claude-code-session-id']) }),
  renderError(err, requestId) {
    const r = renderAnthropicError(err, requestId);
    return { status: r.status, headers: r.headers, body: JSON.stringify(r.body) };
  },
  streamErrorEvent: (err) => `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: err.type, message: err.message } })}\n\n`,
};

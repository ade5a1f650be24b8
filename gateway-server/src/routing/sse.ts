/**
 * Anthropic Messages SSE, written the way api.anthropic.com writes it:
 * `event: <type>\ndata: <json>\n\n`. Shared by the simulated model, the Bedrock re-emitter
 * and the test upstreams so every path produces the same bytes.
 */

export function sseEvent(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface ScriptedReply {
  id: string;
  model: string;
  text: string;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens?: number;
  cacheReadInputTokens?: number;
  stopReason?: string;
}

/** The event sequence of a plain text reply, split into a few deltas. */
export function scriptedEvents(r: ScriptedReply, chunks = 3): { type: string; data: Record<string, unknown> }[] {
  const usageStart = {
    input_tokens: r.inputTokens,
    cache_creation_input_tokens: r.cacheCreationInputTokens ?? 0,
    cache_read_input_tokens: r.cacheReadInputTokens ?? 0,
    output_tokens: 1,
  };
  const events: { type: string; data: Record<string, unknown> }[] = [
    {
      type: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: r.id,
          type: 'message',
          role: 'assistant',
          model: r.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usageStart,
        },
      },
    },
    { type: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } },
    { type: 'ping', data: { type: 'ping' } },
  ];
  const size = Math.max(1, Math.ceil(r.text.length / chunks));
  for (let i = 0; i < r.text.length; i += size) {
    events.push({
      type: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: r.text.slice(i, i + size) } },
    });
  }
  events.push(
    { type: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      type: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: r.stopReason ?? 'end_turn', stop_sequence: null },
        usage: { output_tokens: r.outputTokens },
      },
    },
    { type: 'message_stop', data: { type: 'message_stop' } },
  );
  return events;
}

/** The non-streaming JSON body of the same reply. */
export function scriptedMessage(r: ScriptedReply): Record<string, unknown> {
  return {
    id: r.id,
    type: 'message',
    role: 'assistant',
    model: r.model,
    content: [{ type: 'text', text: r.text }],
    stop_reason: r.stopReason ?? 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: r.inputTokens,
      cache_creation_input_tokens: r.cacheCreationInputTokens ?? 0,
      cache_read_input_tokens: r.cacheReadInputTokens ?? 0,
      output_tokens: r.outputTokens,
    },
  };
}

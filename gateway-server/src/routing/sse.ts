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
  /** Optional leading thinking block (with its signature). */
  thinking?: { text: string; signature: string };
  /** Optional trailing tool_use block. */
  toolUse?: { id: string; name: string; input: Record<string, unknown> };
}

type ScriptedEvent = { type: string; data: Record<string, unknown> };

function split(text: string, chunks: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / chunks));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The event sequence of a plain text reply, split into a few deltas. */
export function scriptedEvents(r: ScriptedReply, chunks = 3): { type: string; data: Record<string, unknown> }[] {
  const usageStart = {
    input_tokens: r.inputTokens,
    cache_creation_input_tokens: r.cacheCreationInputTokens ?? 0,
    cache_read_input_tokens: r.cacheReadInputTokens ?? 0,
    output_tokens: 1,
  };
  const events: ScriptedEvent[] = [
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
  ];
  let index = 0;
  const block = (start: Record<string, unknown>, deltas: Record<string, unknown>[]) => {
    events.push({ type: 'content_block_start', data: { type: 'content_block_start', index, content_block: start } });
    // api.anthropic.com sends one ping right after the first block opens.
    if (index === 0) events.push({ type: 'ping', data: { type: 'ping' } });
    for (const delta of deltas) events.push({ type: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
    events.push({ type: 'content_block_stop', data: { type: 'content_block_stop', index } });
    index++;
  };
  if (r.thinking) {
    block({ type: 'thinking', thinking: '', signature: '' }, [
      ...split(r.thinking.text, chunks).map((t) => ({ type: 'thinking_delta', thinking: t })),
      { type: 'signature_delta', signature: r.thinking.signature },
    ]);
  }
  block(
    { type: 'text', text: '' },
    split(r.text, chunks).map((t) => ({ type: 'text_delta', text: t })),
  );
  if (r.toolUse) {
    block(
      { type: 'tool_use', id: r.toolUse.id, name: r.toolUse.name, input: {} },
      split(JSON.stringify(r.toolUse.input), chunks).map((p) => ({ type: 'input_json_delta', partial_json: p })),
    );
  }
  events.push(
    {
      type: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: r.stopReason ?? (r.toolUse ? 'tool_use' : 'end_turn'), stop_sequence: null },
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
    content: [
      ...(r.thinking ? [{ type: 'thinking', thinking: r.thinking.text, signature: r.thinking.signature }] : []),
      { type: 'text', text: r.text },
      ...(r.toolUse ? [{ type: 'tool_use', id: r.toolUse.id, name: r.toolUse.name, input: r.toolUse.input }] : []),
    ],
    stop_reason: r.stopReason ?? (r.toolUse ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: r.inputTokens,
      cache_creation_input_tokens: r.cacheCreationInputTokens ?? 0,
      cache_read_input_tokens: r.cacheReadInputTokens ?? 0,
      output_tokens: r.outputTokens,
    },
  };
}

/**
 * An OpenAI Responses API stream as Codex 0.171 accepts it (codex-client.md): a text turn,
 * `event:` + `data:` with `sequence_number` from 0, `response.completed` carrying usage with
 * cached and reasoning tokens (included in input and output).
 */
export const RESPONSES_USAGE = { input_tokens: 1200, input_tokens_details: { cached_tokens: 1000 }, output_tokens: 75, output_tokens_details: { reasoning_tokens: 40 }, total_tokens: 1275 };

export function responsesTextStream(text: string, model = 'gpt-5.5', usage: object = RESPONSES_USAGE): string {
  const resp = { id: 'resp_1', object: 'response', created_at: 1764806400, model, status: 'in_progress', output: [] as unknown[] };
  const item = { id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
  const events: [string, Record<string, unknown>][] = [
    ['response.created', { response: resp }],
    ['response.in_progress', { response: resp }],
    ['response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }],
    ['response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }],
    ['response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: text }],
    ['response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text }],
    ['response.content_part.done', { item_id: 'msg_1', output_index: 0, content_index: 0, part: item.content[0] }],
    ['response.output_item.done', { output_index: 0, item }],
    ['response.completed', { response: { ...resp, status: 'completed', output: [item], usage } }],
  ];
  return events.map(([type, data], i) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: i, ...data })}\n\n`).join('');
}

/**
 * UsageReader for the OpenAI Responses API: the Anthropic tap's byte handling (SSE parser over a
 * StringDecoder, streaming JSON scanner), reading the `usage` of the terminal event
 * (`response.completed`, `response.incomplete`, `response.failed`) or of the JSON reply. OpenAI
 * counts `cached_tokens` inside `input_tokens` and `reasoning_tokens` inside `output_tokens`; the
 * gateway's Usage keeps the Anthropic meaning (input_tokens = uncached input, cache reads apart),
 * so one cost formula prices both: (input − cached)·input + cached·cache read + output·output.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { UsageTap, type Usage } from './usage-tap';

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** Write OpenAI usage into `into` as the gateway's Usage; false when `raw` is not a usage object. */
export function mergeOpenAIUsage(into: Usage, raw: unknown): boolean {
  if (!raw || typeof raw !== 'object') return false;
  const u = raw as Record<string, unknown>;
  const input = count(u.input_tokens);
  const cached = Math.min(input, count((u.input_tokens_details as Record<string, unknown> | undefined)?.cached_tokens));
  into.input_tokens = input - cached;
  into.cache_read_input_tokens = cached;
  into.output_tokens = count(u.output_tokens);
  into.reasoning_output_tokens = count((u.output_tokens_details as Record<string, unknown> | undefined)?.reasoning_tokens);
  return true;
}

/** Terminal events carry the whole Response, usage included. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class ResponsesUsageTap extends UsageTap {
  protected override onEvent(e: EventSourceMessage): void {
    // Every Responses event names its type on the `event:` line; one without it is read from `data`.
    const type = e.event ?? /^\{\s*"type"\s*:\s*"([^"]+)"/.exec(e.data)?.[1];
    if (type === undefined) return;
    if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta' || type === 'response.reasoning_summary_text.delta') {
      // Cheap estimate for aborted streams: characters of delta payload, without parsing.
      this.outputChars += Math.max(0, e.data.length - 100);
      return;
    }
    if (type === 'error') {
      this.sawError = true;
      return;
    }
    if (!TERMINAL.has(type)) return;
    if (type === 'response.failed') this.sawError = true;
    else this.sawMessageStop = true;
    try {
      if (mergeOpenAIUsage(this.usage, (JSON.parse(e.data) as { response?: { usage?: unknown } })?.response?.usage)) this.sawUsage = true;
    } catch {
      /* not our business to fix the stream */
    }
  }

  protected override mergeJsonUsage(raw: unknown): void {
    mergeOpenAIUsage(this.usage, raw);
  }
}

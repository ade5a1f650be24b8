/**
 * Token counts of an OpenAI Responses API reply as it streams past the loopback proxy: the
 * `usage` of `response.completed` (or `.incomplete` / `.failed`), or of the JSON body. Display
 * only (the gateway meters and bills); `input_tokens` already includes the cached ones and
 * `output_tokens` the reasoning ones, so nothing is added.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';

const usageSchema = z.object({ input_tokens: z.number().int().nonnegative(), output_tokens: z.number().int().nonnegative() }).passthrough();
const responseSchema = z.object({ model: z.string().optional(), usage: usageSchema.nullish() }).passthrough();
const FINAL_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);
/** A JSON reply bigger than this is not read for display. */
const MAX_JSON_BYTES = 8 * 1024 * 1024;

export interface ResponsesUsage {
  model?: string;
  inputTokens: number;
  outputTokens: number;
}

export class ResponsesUsageTap {
  private readonly decoder = new StringDecoder('utf8');
  private readonly parser?: EventSourceParser;
  private json = '';
  private result: ResponsesUsage = { inputTokens: 0, outputTokens: 0 };

  constructor(private readonly streaming: boolean) {
    if (streaming) this.parser = createParser({ onEvent: (e) => this.onEvent(e.event, e.data) });
  }

  write(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    if (this.parser) this.parser.feed(text);
    else if (this.json.length + text.length <= MAX_JSON_BYTES) this.json += text;
  }

  finish(): ResponsesUsage {
    const rest = this.decoder.end();
    if (this.parser) this.parser.feed(rest);
    else this.take(parseJson(this.json + rest));
    return this.result;
  }

  private onEvent(event: string | undefined, data: string): void {
    // The event type is in `event:` and repeated as `type` in the data; Codex needs only the latter.
    if (event !== undefined && !FINAL_EVENTS.has(event)) return;
    if (event === undefined && !/"type"\s*:\s*"response\.(completed|incomplete|failed)"/.test(data.slice(0, 200))) return;
    const body = parseJson(data) as { response?: unknown } | undefined;
    this.take(body?.response);
  }

  private take(response: unknown): void {
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success) return;
    const { model, usage } = parsed.data;
    this.result = { ...(model ? { model } : {}), inputTokens: usage?.input_tokens ?? 0, outputTokens: usage?.output_tokens ?? 0 };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // truncated or not JSON: nothing to show
  }
}

/**
 * UsageReader for the OpenAI Responses API, reading without changing a byte. Streams: the
 * `usage` of the terminal event (`response.completed`, `response.incomplete`, `response.failed`),
 * read with the same SSE parser as the Anthropic tap. JSON: the top-level `usage`. OpenAI counts
 * `cached_tokens` inside `input_tokens` and `reasoning_tokens` inside `output_tokens`; the
 * gateway's Usage keeps the Anthropic meaning (input_tokens = uncached input, cache reads apart),
 * so one cost formula prices both: (input − cached)·input + cached·cache read + output·output.
 */
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { JsonMemberScanner } from './json-member';
import { emptyUsage, type Usage, type UsageReader } from './usage-tap';

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** OpenAI usage as the gateway's Usage; undefined when `raw` is not a usage object. */
export function fromOpenAIUsage(raw: unknown): Usage | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  const input = count(u.input_tokens);
  const cached = Math.min(input, count((u.input_tokens_details as Record<string, unknown> | undefined)?.cached_tokens));
  const usage = emptyUsage();
  usage.input_tokens = input - cached;
  usage.cache_read_input_tokens = cached;
  usage.output_tokens = count(u.output_tokens);
  usage.reasoning_output_tokens = count((u.output_tokens_details as Record<string, unknown> | undefined)?.reasoning_tokens);
  return usage;
}

/** Terminal events carry the whole Response, usage included. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class ResponsesUsageTap implements UsageReader {
  usage = emptyUsage();
  outputChars = 0;
  sawMessageStop = false;
  sawError = false;
  private readonly decoder: StringDecoder | undefined;
  private readonly parser: EventSourceParser | undefined;
  private readonly json: JsonMemberScanner | undefined;
  private broken = false;
  private finished = false;

  constructor(streaming: boolean) {
    if (streaming) {
      this.decoder = new StringDecoder('utf8');
      this.parser = createParser({ onEvent: (e) => this.onEvent(e), onError: () => undefined, maxBufferSize: 16 * 1024 * 1024 });
    } else {
      this.json = new JsonMemberScanner('usage');
    }
  }

  write(chunk: Uint8Array): void {
    if (this.json) return this.json.write(chunk);
    if (this.broken) return;
    const text = this.decoder!.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (!text) return;
    try {
      this.parser!.feed(text);
    } catch {
      this.broken = true;
    }
  }

  private onEvent(e: EventSourceMessage): void {
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
      const usage = fromOpenAIUsage((JSON.parse(e.data) as { response?: { usage?: unknown } })?.response?.usage);
      if (usage) this.usage = usage;
    } catch {
      /* not our business to fix the stream */
    }
  }

  finish(): Usage {
    if (this.finished) return this.usage;
    this.finished = true;
    if (this.parser && !this.broken) {
      try {
        this.parser.feed(this.decoder!.end() + '\n');
      } catch {
        this.broken = true;
      }
    }
    if (this.json) {
      const usage = fromOpenAIUsage(this.json.value());
      if (usage) this.usage = usage;
      this.sawMessageStop = this.json.complete;
    }
    return this.usage;
  }
}

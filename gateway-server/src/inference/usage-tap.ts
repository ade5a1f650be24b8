/**
 * Reads token usage out of a reply while it streams past, without changing a byte.
 * Streams: `message_start.message.usage` then `message_delta.usage` (cumulative output), read
 * with a real SSE parser (any of \n, \r\n, \r framing) over a StringDecoder (a multibyte
 * character split across chunks stays whole). JSON: the top-level `usage`, found by a streaming
 * scanner that keeps only that member, so a reply of any size is charged its real usage.
 */
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { JsonMemberScanner } from './json-member';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  /** By TTL when the upstream reports it (`cache_creation.ephemeral_1h_input_tokens`). */
  cache_creation_1h_input_tokens: number;
  cache_read_input_tokens: number;
  web_search_requests: number;
  /** OpenAI: `output_tokens_details.reasoning_tokens`, already part of output_tokens (recorded, never charged twice). */
  reasoning_output_tokens?: number;
}

/** What the inference pipeline reads while a reply passes (one implementation per API family). */
export interface UsageReader {
  readonly usage: Usage;
  /** Characters of delta payload seen: the basis of the estimate for an aborted stream. */
  readonly outputChars: number;
  /** The reply reached its documented end (message_stop, response.completed, a closed JSON object). */
  readonly sawMessageStop: boolean;
  /** The upstream ended the stream with an error event. */
  readonly sawError: boolean;
  write(chunk: Uint8Array): void;
  finish(): Usage;
}

export function emptyUsage(): Usage {
  return {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_creation_1h_input_tokens: 0,
    cache_read_input_tokens: 0,
    web_search_requests: 0,
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** Merge a usage object from the wire into `into` (later reports win field by field). */
export function mergeUsage(into: Usage, raw: unknown): void {
  if (!raw || typeof raw !== 'object') return;
  const u = raw as Record<string, unknown>;
  into.input_tokens = num(u.input_tokens) ?? into.input_tokens;
  into.output_tokens = num(u.output_tokens) ?? into.output_tokens;
  into.cache_creation_input_tokens = num(u.cache_creation_input_tokens) ?? into.cache_creation_input_tokens;
  into.cache_read_input_tokens = num(u.cache_read_input_tokens) ?? into.cache_read_input_tokens;
  const cc = u.cache_creation as Record<string, unknown> | undefined;
  if (cc && typeof cc === 'object') into.cache_creation_1h_input_tokens = num(cc.ephemeral_1h_input_tokens) ?? into.cache_creation_1h_input_tokens;
  const stu = u.server_tool_use as Record<string, unknown> | undefined;
  if (stu && typeof stu === 'object') into.web_search_requests = num(stu.web_search_requests) ?? into.web_search_requests;
}

export class UsageTap implements UsageReader {
  readonly usage = emptyUsage();
  /** Characters of delta payload seen: the basis of the estimate for an aborted stream. */
  outputChars = 0;
  sawMessageStop = false;
  sawUsage = false;
  /** An `event: error` arrived in the stream (the upstream gave up mid-answer). */
  sawError = false;
  private readonly decoder: StringDecoder | undefined;
  private readonly parser: EventSourceParser | undefined;
  private readonly json: JsonMemberScanner | undefined;
  /** The SSE parser gave up (an event larger than its bound): usage is then estimated. */
  private broken = false;
  private finished = false;

  constructor(streaming: boolean) {
    if (streaming) {
      this.decoder = new StringDecoder('utf8');
      // The bound keeps a hostile or broken upstream from growing one pending event forever.
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

  /** One SSE event of the reply (subclasses read other API families' events). */
  protected onEvent(e: EventSourceMessage): void {
    switch (e.event) {
      case 'content_block_delta':
        // Cheap estimate for aborted streams: characters of delta payload, without parsing.
        this.outputChars += Math.max(0, e.data.length - 60);
        return;
      case 'message_start':
      case 'message_delta':
        return this.readUsage(e.event, e.data);
      case 'message_stop':
        this.sawMessageStop = true;
        return;
      case 'error':
        this.sawError = true;
        return;
    }
  }

  private readUsage(type: string, data: string): void {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return; // not our business to fix the stream
    }
    const usage = type === 'message_start' ? (obj?.message as Record<string, unknown> | undefined)?.usage : obj?.usage;
    if (usage) {
      mergeUsage(this.usage, usage);
      this.sawUsage = true;
    }
  }

  /** The top-level `usage` of a JSON reply, in the API family's own shape. */
  protected mergeJsonUsage(raw: unknown): void {
    mergeUsage(this.usage, raw);
  }

  /** Call once the body has ended (or been cut); calling it again changes nothing. */
  finish(): Usage {
    if (this.finished) return this.usage;
    this.finished = true;
    if (this.parser && !this.broken) {
      // A lone CR may end the last line (`\r` framing): only the next byte could say whether it
      // was half of a CRLF, so the parser waits. The body has ended, so end the line here. An
      // event missing its blank line stays undispatched, as the SSE rules say.
      try {
        this.parser.feed(this.decoder!.end() + '\n');
      } catch {
        this.broken = true;
      }
    }
    if (this.json) {
      const usage = this.json.value();
      if (usage) {
        this.mergeJsonUsage(usage);
        this.sawUsage = true;
      }
      // A JSON reply is whole once its top-level object closes; anything less was cut.
      this.sawMessageStop = this.json.complete;
    }
    return this.usage;
  }
}

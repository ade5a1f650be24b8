/**
 * Reads token usage out of a reply while it streams past, without changing a byte.
 * Streams: `message_start.message.usage` then `message_delta.usage` (cumulative output).
 * JSON: the top-level `usage`. Only the events that carry usage are JSON-parsed.
 */

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  /** By TTL when the upstream reports it (`cache_creation.ephemeral_1h_input_tokens`). */
  cache_creation_1h_input_tokens: number;
  cache_read_input_tokens: number;
  web_search_requests: number;
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

export class UsageTap {
  readonly usage = emptyUsage();
  /** Bytes of text/thinking deltas seen: the basis of the estimate for an aborted stream. */
  outputChars = 0;
  sawMessageStop = false;
  sawUsage = false;
  /** An `event: error` arrived in the stream (the upstream gave up mid-answer). */
  sawError = false;
  private pending = '';
  private jsonChunks: Buffer[] | undefined;
  private jsonBytes = 0;

  constructor(private readonly streaming: boolean) {
    if (!streaming) this.jsonChunks = [];
  }

  write(chunk: Uint8Array): void {
    if (!this.streaming) {
      // JSON replies are small; keep a copy up to 4 MiB to read `usage` at the end.
      if (this.jsonBytes < 4 * 1024 * 1024) {
        this.jsonChunks!.push(Buffer.from(chunk));
        this.jsonBytes += chunk.length;
      }
      return;
    }
    // One decoded string per chunk, scanned with a cursor: events are read in place (no
    // per-event copy of the remainder, no split into lines); only the two events that carry
    // usage have their data copied out and parsed. A long answer is hundreds of
    // content_block_delta events, so this runs per event of every stream.
    const decoded = Buffer.from(chunk).toString('utf8');
    const text = this.pending ? this.pending + decoded : decoded;
    let start = 0;
    let idx: number;
    while ((idx = text.indexOf('\n\n', start)) !== -1) {
      this.onEvent(text, start, idx);
      start = idx + 2;
    }
    this.pending = start === 0 ? text : text.slice(start);
  }

  /** One event: the lines of `text` between `from` and `to`. */
  private onEvent(text: string, from: number, to: number): void {
    let type = '';
    let data = '';
    let dataChars = 0;
    // The data lines are kept as positions until the event type says whether they matter.
    let dataLines: number[] | undefined;
    for (let pos = from; pos < to; ) {
      let end = text.indexOf('\n', pos);
      if (end === -1 || end > to) end = to;
      if (text.startsWith('event:', pos)) type = text.slice(pos + 6, end).trim();
      else if (text.startsWith('data:', pos)) (dataLines ??= []).push(pos + 5, end);
      pos = end + 1;
    }
    const wanted = type === 'message_start' || type === 'message_delta';
    if (dataLines && (wanted || type === 'content_block_delta')) {
      for (let i = 0; i < dataLines.length; i += 2) {
        const line = text.slice(dataLines[i], dataLines[i + 1]).trimStart();
        if (wanted) data += line;
        else dataChars += line.length;
      }
    }
    if (type === 'content_block_delta') {
      // Cheap estimate for aborted streams: characters of delta payload, without parsing.
      this.outputChars += Math.max(0, dataChars - 60);
      return;
    }
    if (wanted) {
      try {
        const obj = JSON.parse(data) as Record<string, unknown>;
        const usage = type === 'message_start' ? (obj.message as Record<string, unknown> | undefined)?.usage : obj.usage;
        if (usage) {
          mergeUsage(this.usage, usage);
          this.sawUsage = true;
        }
      } catch {
        /* not our business to fix the stream */
      }
    } else if (type === 'message_stop') {
      this.sawMessageStop = true;
    } else if (type === 'error') {
      this.sawError = true;
    }
  }

  /** Call once the body has ended (or been cut). */
  finish(): Usage {
    if (!this.streaming && this.jsonChunks) {
      try {
        const obj = JSON.parse(Buffer.concat(this.jsonChunks).toString('utf8')) as Record<string, unknown>;
        if (obj.usage) {
          mergeUsage(this.usage, obj.usage);
          this.sawUsage = true;
        }
        this.sawMessageStop = true;
      } catch {
        /* error bodies and truncated JSON carry no usage */
      }
      this.jsonChunks = undefined;
    }
    return this.usage;
  }
}

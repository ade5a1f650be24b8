/**
 * Bedrock's InvokeModelWithResponseStream answer is an AWS binary event stream whose `chunk`
 * events carry `{"bytes": base64(<Anthropic stream event JSON>)}`. This re-emits it as the SSE
 * api.anthropic.com sends (the event JSON text unchanged), synthesises `ping` after a silence
 * (Bedrock sends none; clients and proxies time idle streams out), and ends with an SSE `error`
 * event when Bedrock reports an exception mid-stream.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { Message } from '@smithy/types';
import { sseEvent } from './sse';
import { bedrockExceptionType } from './sanitize';

export const eventStreamCodec = new EventStreamCodec(toUtf8, fromUtf8);

export const DEFAULT_PING_INTERVAL_MS = 15_000;

/** Whole event-stream messages out of arbitrary byte chunks (the prelude's first 4 bytes are the total length). */
export async function* eventStreamMessages(source: AsyncIterable<Uint8Array>): AsyncGenerator<Message> {
  let buf = Buffer.alloc(0);
  for await (const chunk of source) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
    while (buf.length >= 4) {
      const total = buf.readUInt32BE(0);
      if (buf.length < total) break;
      yield eventStreamCodec.decode(buf.subarray(0, total));
      buf = buf.subarray(total);
    }
  }
  if (buf.length) throw new Error('Bedrock event stream ended inside a frame');
}

function header(m: Message, name: string): string | undefined {
  const h = m.headers[name];
  return h && h.type === 'string' ? h.value : undefined;
}

export interface ReemitOptions {
  pingIntervalMs?: number;
  /** Full exception text for the operator log. */
  onException?(exceptionType: string, message: string): void;
}

const PING = Buffer.from(sseEvent('ping', { type: 'ping' }));

export async function* bedrockToSse(source: AsyncIterable<Uint8Array>, opts: ReemitOptions = {}): AsyncGenerator<Buffer> {
  const interval = opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const it = eventStreamMessages(source)[Symbol.asyncIterator]();
  let pending = it.next();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'ping'>((resolve) => {
        timer = setTimeout(() => resolve('ping'), interval);
      });
      const next = await Promise.race([pending, tick]).finally(() => clearTimeout(timer));
      if (next === 'ping') {
        yield PING;
        continue;
      }
      if (next.done) return;
      pending = it.next();
      const m = next.value;
      const kind = header(m, ':message-type');
      if (kind === 'event') {
        if (header(m, ':event-type') !== 'chunk') continue;
        const payload = JSON.parse(toUtf8(m.body)) as { bytes?: string };
        if (typeof payload.bytes !== 'string') continue;
        const text = Buffer.from(payload.bytes, 'base64').toString('utf8');
        const type = (JSON.parse(text) as { type?: unknown }).type;
        yield Buffer.from(`event: ${typeof type === 'string' ? type : 'message'}\ndata: ${text}\n\n`);
        continue;
      }
      const exceptionType = header(m, ':exception-type') ?? header(m, ':error-code') ?? 'unknownException';
      let message = toUtf8(m.body);
      try {
        const parsed = JSON.parse(message) as { message?: unknown; Message?: unknown };
        message = String(parsed.message ?? parsed.Message ?? message);
      } catch {
        /* not JSON: keep the text */
      }
      opts.onException?.(exceptionType, message);
      const type = bedrockExceptionType(exceptionType);
      yield Buffer.from(
        sseEvent('error', { type: 'error', error: { type, message: type === 'rate_limit_error' ? 'upstream rate limit exceeded' : 'upstream error mid-stream' } }),
      );
      return;
    }
  } finally {
    pending.catch(() => {});
    void it.return?.(undefined)?.catch(() => {});
  }
}

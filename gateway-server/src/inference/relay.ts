/**
 * The relay stage: the upstream's reply goes to the client on the raw socket with the usage
 * reader tapping it. Streams: status and headers as soon as the upstream answers, then every
 * chunk as it arrives, never buffered. Non-streaming replies (one JSON document the upstream sends
 * when complete) leave in a single write. Nothing is re-serialised.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors';
import { isUpstreamIdleTimeout } from '../routing/upstream';
import type { RouteResult } from '../routing/failover';
import type { ApiFamily } from './family';
import type { InferenceEvent } from './hooks';
import type { UsageReader } from './usage-tap';

/** One request in flight, shared by the pipeline's stages. */
export interface Flight {
  readonly family: ApiFamily;
  readonly requestId: string;
  readonly res: ServerResponse;
  readonly event: InferenceEvent;
  clientGone: boolean;
  onClose: () => void;
  /** settle + audit: charge the usage, write the row, wait for the charge to be stored. */
  finish(tap: UsageReader | undefined, status: number, result?: RouteResult): Promise<void>;
  warn(detail: Record<string, unknown>, message: string): void;
}

/** What a reply body that failed after its headers becomes: a 504 when it went silent, else a 502. */
function cutError(err: unknown, lost: string): GatewayError {
  return isUpstreamIdleTimeout(err) ? new GatewayError('UPSTREAM_IDLE_TIMEOUT') : new GatewayError('ALL_UPSTREAMS_FAILED', lost);
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export async function relayStream(f: Flight, result: RouteResult, headers: Record<string, string | string[]>, tap: UsageReader | undefined): Promise<void> {
  const { res, event } = f;
  const { response } = result;
  const ok = tap !== undefined;
  res.writeHead(response.status, headers);
  // Headers go out with the first event when the upstream sent both together (one write
  // instead of two, the common case); otherwise on the next loop turn, so the client's
  // time to first byte stays the upstream's.
  let flush: NodeJS.Immediate | undefined = setImmediate(() => {
    flush = undefined;
    if (!res.headersSent && !res.destroyed) res.flushHeaders();
  });
  let cut: GatewayError | undefined;
  try {
    for await (const chunk of response.body) {
      if (flush) flush = void clearImmediate(flush);
      tap?.write(chunk);
      if (!res.write(chunk)) await waitDrain(res);
      if (f.clientGone) break;
    }
  } catch (err) {
    if (!f.clientGone) {
      cut = cutError(err, 'upstream connection lost mid-stream');
      f.warn({ requestId: f.requestId, upstream: result.upstream.name, err: (err as Error).message }, 'upstream stream ended abnormally');
    }
  }
  if (flush) clearImmediate(flush);
  res.off('close', f.onClose);
  // Before the checks below: with `\r` framing the last event is only complete at the end.
  tap?.finish();
  if (f.clientGone) event.outcome = 'client_aborted';
  else if (!cut && tap?.sawError) {
    // The upstream (e.g. a Bedrock exception frame) ended the stream with an SSE error event.
    event.outcome = 'upstream_cut';
    event.reason = 'upstream_stream_error';
  } else if (cut) {
    // The client already has its 200: the status stays, the row says how the stream ended.
    event.outcome = 'upstream_cut';
    if (cut.code === 'UPSTREAM_IDLE_TIMEOUT') event.reason = cut.code;
    // Never a silent truncation: the client gets a proper SSE error event.
    if (ok) res.write(f.family.streamErrorEvent(cut));
  }
  await f.finish(tap, response.status, result);
  if (!f.clientGone) res.end();
  else res.destroy();
}

/**
 * A non-streaming reply is one JSON document the upstream sends only once it is complete,
 * so relaying it whole costs no latency: status, headers and body leave in one write with
 * an exact Content-Length (no chunked framing), and a reply cut short becomes a 502
 * instead of a truncated 200.
 */
export async function relayWhole(f: Flight, result: RouteResult, headers: Record<string, string | string[]>, tap: UsageReader | undefined): Promise<void> {
  const { res, event } = f;
  const { response } = result;
  const chunks: Uint8Array[] = [];
  let size = 0;
  let cut: GatewayError | undefined;
  try {
    for await (const chunk of response.body) {
      tap?.write(chunk);
      chunks.push(chunk);
      size += chunk.length;
      if (f.clientGone) break;
    }
  } catch (err) {
    if (!f.clientGone) {
      cut = cutError(err, 'upstream connection lost before the reply was complete');
      f.warn({ requestId: f.requestId, upstream: result.upstream.name, err: (err as Error).message }, 'upstream reply ended abnormally');
    }
  }
  res.off('close', f.onClose);
  if (f.clientGone) event.outcome = 'client_aborted';
  else if (cut) {
    // The row records what the client gets (502/504), not the upstream's 200.
    event.outcome = 'upstream_cut';
    event.status = cut.status;
    event.reason = cut.code;
  }
  await f.finish(tap, response.status, result);
  if (f.clientGone) return void res.destroy();
  if (cut) {
    const r = f.family.renderError(cut, f.requestId);
    res.writeHead(r.status, { ...r.headers, 'request-id': f.requestId, 'x-request-id': f.requestId, 'content-length': String(Buffer.byteLength(r.body)) });
    return void res.end(r.body);
  }
  headers['content-length'] = String(size);
  res.writeHead(response.status, headers);
  res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
}

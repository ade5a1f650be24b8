/**
 * The benchmark's upstream: a lean stand-in for api.anthropic.com, run in its own process so
 * its CPU is not charged to the gateway or the load generator. Replies are pre-serialised
 * (the same bytes as test/support/mock-anthropic.ts would send) and nothing is recorded, so
 * the mock stays several times faster than anything measured through it.
 * Prints `{"port":N}` on stdout once listening. `--port N` fixes the port (external gateways
 * must be configured with its URL before the run).
 *
 * Upstream latency: `POST /__bench/delay?ms=N` (or `--delay-ms N` at start) makes every reply
 * wait N ms before its status line: JSON replies are sent whole after N ms, streams send their
 * headers and first event after N ms (the time to first token), then the rest. The bench sets
 * it per cell, so direct and through-gateway rounds see the same upstream.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scriptedEvents, scriptedMessage, sseEvent } from '../gateway-server/src/routing/sse';
import { openaiSseEvent, responseEvents, responseJson } from '../test/support/mock-openai';

const reply = { id: 'msg_bench_0001', model: 'claude-sonnet-4-6', text: 'Hello from the benchmark upstream. '.repeat(4), inputTokens: 25, outputTokens: 40 };
const events = scriptedEvents(reply, 6).map((e) => sseEvent(e.type, e.data));
// Two writes per stream: the first event alone (time to first byte), then the rest.
const SSE_HEAD = Buffer.from(events[0]!);
const SSE_TAIL = Buffer.from(events.slice(1).join(''));
const JSON_BODY = Buffer.from(JSON.stringify(scriptedMessage(reply)));
const STREAM_RE = /"stream"\s*:\s*true/;

// POST …/v1/responses (OpenAI Responses, as Codex gets it): the same text and a usage with cached and reasoning tokens.
const openaiReply = { id: 'resp_bench_0001', text: reply.text, usage: { inputTokens: 25, cachedTokens: 16, outputTokens: 40, reasoningTokens: 8 } };
const rEvents = responseEvents(openaiReply, 'gpt-5-codex', undefined, 1764547200).map(openaiSseEvent);
const R_SSE_HEAD = Buffer.from(rEvents[0]!);
const R_SSE_TAIL = Buffer.from(rEvents.slice(1).join(''));
const R_JSON_BODY = Buffer.from(JSON.stringify(responseJson(openaiReply, 'gpt-5-codex')));

const common = {
  'request-id': 'req_bench',
  'anthropic-ratelimit-requests-limit': '4000',
  'anthropic-ratelimit-requests-remaining': '3999',
};
const sseHeaders = { ...common, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };
const jsonHeaders = { ...common, 'content-type': 'application/json', 'content-length': String(JSON_BODY.length) };

const delayArg = process.argv.indexOf('--delay-ms');
let delayMs = delayArg > 0 ? Number(process.argv[delayArg + 1]) : 0;

const server = createServer((req, res) => {
  if (req.url?.startsWith('/__bench/delay')) {
    const ms = Number(new URL(req.url, 'http://mock').searchParams.get('ms'));
    if (!Number.isFinite(ms) || ms < 0) {
      res.writeHead(400).end();
      return;
    }
    delayMs = ms;
    req.resume();
    res.writeHead(204).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url?.includes('/count_tokens')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"input_tokens":25}');
      return;
    }
    // The body is small and its "stream" flag is all the mock needs: no JSON.parse.
    const body = chunks.length === 1 ? chunks[0]!.toString('latin1') : Buffer.concat(chunks).toString('latin1');
    const stream = STREAM_RE.test(body);
    const responses = req.url!.endsWith('/responses');
    if (delayMs > 0) setTimeout(answer, delayMs, res, stream, responses);
    else answer(res, stream, responses);
  });
});
function answer(res: ServerResponse, stream: boolean, responses: boolean): void {
  if (res.destroyed) return;
  if (stream) {
    res.writeHead(200, sseHeaders);
    res.write(responses ? R_SSE_HEAD : SSE_HEAD);
    setImmediate(() => res.end(responses ? R_SSE_TAIL : SSE_TAIL));
  } else if (responses) {
    res.writeHead(200, { ...common, 'content-type': 'application/json', 'content-length': String(R_JSON_BODY.length) });
    res.end(R_JSON_BODY);
  } else {
    res.writeHead(200, jsonHeaders);
    res.end(JSON_BODY);
  }
}
server.keepAliveTimeout = 60_000;
const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
// The bench holds our stdin open: when it dies, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

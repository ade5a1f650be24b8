/**
 * A loopback stand-in for api.openai.com/v1 (and an Azure OpenAI resource) that speaks the real
 * Responses API wire format: SSE `event: <type>` + `data: <json>` with `sequence_number` from 0
 * (response.created … response.completed with usage incl. cached and reasoning tokens), JSON
 * replies, GET /v1/models, and a scripted two-turn tool call (a function_call turn, then, once
 * the request carries the function_call_output, the text turn). Records every request and its
 * headers so tests can assert what reached the upstream.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type OpenAI from 'openai';
import { listenLoopback, recordRequest } from './loopback-server';
import { sleep, type RecordedRequest } from './mock-anthropic';

export type { RecordedRequest } from './mock-anthropic';

export interface OpenAIUsage {
  /** Includes `cachedTokens`, as the real API reports it. */
  inputTokens: number;
  cachedTokens: number;
  /** Includes `reasoningTokens`, as the real API reports it. */
  outputTokens: number;
  reasoningTokens: number;
}

export interface OpenAIReply {
  id: string;
  text: string;
  usage: OpenAIUsage;
  /** Emit a reasoning item with `encrypted_content` first (as with `include: ["reasoning.encrypted_content"]`). */
  reasoning?: boolean;
}

export interface ToolCallScript {
  name: string;
  /** The JSON text of the call's arguments, streamed in a few deltas. */
  arguments: string;
  callId?: string;
}

export interface OpenAIBehaviour {
  /** Respond with this status and the OpenAI error envelope instead of a reply. */
  status?: number;
  errorType?: string;
  errorCode?: string;
  errorMessage?: string;
  firstByteDelayMs?: number;
  eventDelayMs?: number;
  /** Destroy the socket after this many SSE events. */
  cutAfterEvents?: number;
  reply?: Partial<OpenAIReply> & { usage?: Partial<OpenAIUsage> };
  /** This request's turn is a function call unless its input already carries a function_call_output. */
  toolCall?: ToolCallScript;
}

export interface MockOpenAI {
  url: string;
  port: number;
  /** Base URL for `provider: openai` (`…/v1`). */
  baseUrl: string;
  requests: RecordedRequest[];
  queue: OpenAIBehaviour[];
  defaults: OpenAIBehaviour;
  sentBodies: Buffer[];
  close(): Promise<void>;
}

export const DEFAULT_OPENAI_REPLY: OpenAIReply = {
  id: 'resp_mock_0001',
  text: 'Hello from the mock OpenAI upstream.',
  usage: { inputTokens: 1200, cachedTokens: 1024, outputTokens: 300, reasoningTokens: 256 },
};

type Event = { type: string } & Record<string, unknown>;

function usageJson(u: OpenAIUsage) {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** The Response object (`object: "response"`) at a given status. */
function responseObject(id: string, model: string, status: string, output: unknown[], usage: OpenAIUsage | null, createdAt: number) {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: 'medium', summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: usage ? usageJson(usage) : null,
    user: null,
    metadata: {},
  };
}

/** Pieces of `s` for deltas (at least one). */
function pieces(s: string, n = 3): string[] {
  if (s.length === 0) return [''];
  const size = Math.max(1, Math.ceil(s.length / n));
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

/** Output items of one turn: optional reasoning, then a message or a function call. */
function outputItems(reply: OpenAIReply, tool: ToolCallScript | undefined): { item: Record<string, unknown>; events: (idx: number) => Event[] }[] {
  const items: { item: Record<string, unknown>; events: (idx: number) => Event[] }[] = [];
  if (reply.reasoning) {
    const item = { id: `rs_${reply.id}`, type: 'reasoning', summary: [], encrypted_content: 'gAAAAABmockEncryptedReasoning==' };
    items.push({ item, events: () => [] });
  }
  if (tool) {
    const id = `fc_${reply.id}`;
    const done = { id, type: 'function_call', status: 'completed', arguments: tool.arguments, call_id: tool.callId ?? `call_${reply.id}`, name: tool.name };
    items.push({
      item: done,
      events: (idx) => [
        ...pieces(tool.arguments).map((delta) => ({ type: 'response.function_call_arguments.delta', item_id: id, output_index: idx, delta })),
        { type: 'response.function_call_arguments.done', item_id: id, output_index: idx, name: tool.name, arguments: tool.arguments },
      ],
    });
    return items;
  }
  const id = `msg_${reply.id}`;
  const part = { type: 'output_text', text: reply.text, annotations: [] };
  items.push({
    item: { id, type: 'message', status: 'completed', role: 'assistant', content: [part] },
    events: (idx) => [
      { type: 'response.content_part.added', item_id: id, output_index: idx, content_index: 0, part: { ...part, text: '' } },
      ...pieces(reply.text).map((delta) => ({ type: 'response.output_text.delta', item_id: id, output_index: idx, content_index: 0, delta, logprobs: [] })),
      { type: 'response.output_text.done', item_id: id, output_index: idx, content_index: 0, text: reply.text, logprobs: [] },
      { type: 'response.content_part.done', item_id: id, output_index: idx, content_index: 0, part },
    ],
  });
  return items;
}

/** The event sequence of one streamed turn, `sequence_number` counting from 0. */
export function responseEvents(reply: OpenAIReply, model: string, tool?: ToolCallScript, createdAt = Math.floor(Date.now() / 1000)): Event[] {
  const items = outputItems(reply, tool);
  const events: Event[] = [
    { type: 'response.created', response: responseObject(reply.id, model, 'in_progress', [], null, createdAt) },
    { type: 'response.in_progress', response: responseObject(reply.id, model, 'in_progress', [], null, createdAt) },
  ];
  items.forEach(({ item, events: inner }, idx) => {
    const added = item.type === 'message' ? { ...item, status: 'in_progress', content: [] } : item.type === 'function_call' ? { ...item, status: 'in_progress', arguments: '' } : item;
    events.push({ type: 'response.output_item.added', output_index: idx, item: added });
    events.push(...inner(idx));
    events.push({ type: 'response.output_item.done', output_index: idx, item });
  });
  events.push({ type: 'response.completed', response: responseObject(reply.id, model, 'completed', items.map((i) => i.item), reply.usage, createdAt) });
  // `type` first, then `sequence_number`, as the real API orders its members.
  return events.map(({ type, ...rest }, i) => ({ type, sequence_number: i, ...rest }));
}

/** The JSON (non-stream) answer of one turn. */
export function responseJson(reply: OpenAIReply, model: string, tool?: ToolCallScript): Record<string, unknown> {
  return responseObject(reply.id, model, 'completed', outputItems(reply, tool).map((i) => i.item), reply.usage, Math.floor(Date.now() / 1000));
}

/** The headers Codex 0.171 (`codex exec`) sends with a Responses turn, for tests that act as Codex. */
export function codexRequestHeaders(token: string): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'accept-encoding': 'zstd,gzip',
    originator: 'codex_exec',
    'user-agent': 'codex_exec/0.171.0 (Linux; x86_64)',
    'session-id': 'sess-0001',
    'thread-id': 'thread-0001',
    'x-codex-turn-metadata': JSON.stringify({ session_id: 'sess-0001', turn_id: 't1', request_kind: 'turn', sandbox: 'read-only' }),
  };
}

/** One `responses.stream()` turn through the official SDK: the text deltas joined, and the final response. */
export async function sdkStreamTurn(client: OpenAI, model: string, input: string) {
  const stream = client.responses.stream({ model, input });
  let deltas = '';
  stream.on('response.output_text.delta', (e) => (deltas += e.delta));
  const final = await stream.finalResponse();
  return { deltas, final };
}

export function openaiSseEvent(e: Event): string {
  return `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** Whether the request's input already answers a tool call (the second turn of a tool loop). */
function hasToolOutput(json: Record<string, unknown> | undefined): boolean {
  return Array.isArray(json?.input) && (json.input as { type?: unknown }[]).some((i) => i && i.type === 'function_call_output');
}

function errorTypeFor(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_exceeded';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

export interface MockOpenAIOptions {
  apiKey?: string;
  /** Azure: require `api-key` instead of a bearer. */
  azure?: boolean;
  /** Checks the request's credentials itself (an Entra ID bearer); a returned reason answers 401. */
  authorize?: (headers: IncomingHttpHeaders) => string | undefined;
}

export async function startMockOpenAI(opts: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const state = { requests: [] as RecordedRequest[], queue: [] as OpenAIBehaviour[], defaults: {} as OpenAIBehaviour, sentBodies: [] as Buffer[] };
  let counter = 0;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    recordRequest(req, state.requests, (index, json) => {
      const b = req.method === 'POST' ? (state.queue.shift() ?? state.defaults) : {};
      void respond(req, res, json, b, index).catch(() => res.destroy());
    });
  });

  function sendError(res: ServerResponse, status: number, type: string, message: string, code: string | null, extra: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_mock_${++counter}`, ...extra });
    res.end(JSON.stringify({ error: { message, type, param: null, code } }));
  }

  async function respond(req: IncomingMessage, res: ServerResponse, json: Record<string, unknown> | undefined, b: OpenAIBehaviour, index: number) {
    const refused = opts.authorize?.(req.headers);
    if (refused !== undefined) return sendError(res, 401, 'invalid_request_error', `Unauthorized: ${refused}`, 'invalid_api_key');
    if (opts.apiKey) {
      const presented = opts.azure ? req.headers['api-key'] : req.headers.authorization;
      if (presented !== (opts.azure ? opts.apiKey : `Bearer ${opts.apiKey}`)) {
        return sendError(res, 401, 'invalid_request_error', 'Incorrect API key provided.', 'invalid_api_key');
      }
    }
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-5.5', object: 'model', created: 1764547200, owned_by: 'openai' }] }));
    }
    if (req.method !== 'POST' || !path.endsWith('/responses')) return sendError(res, 404, 'invalid_request_error', `Unknown request URL: ${req.method} ${path}`, 'unknown_url');
    if (b.firstByteDelayMs) await sleep(b.firstByteDelayMs);
    if (res.destroyed) return;
    if (b.status && b.status >= 400) {
      return sendError(res, b.status, b.errorType ?? errorTypeFor(b.status), b.errorMessage ?? `mock error ${b.status}`, b.errorCode ?? null, b.status === 429 ? { 'retry-after': '7' } : {});
    }
    const reply: OpenAIReply = { ...DEFAULT_OPENAI_REPLY, ...b.reply, id: b.reply?.id ?? `resp_mock_${index + 1}`, usage: { ...DEFAULT_OPENAI_REPLY.usage, ...b.reply?.usage } };
    const model = typeof json?.model === 'string' ? json.model : 'gpt-5.5';
    const tool = b.toolCall && !hasToolOutput(json) ? b.toolCall : undefined;
    const common = { 'x-request-id': `req_mock_${++counter}`, 'openai-processing-ms': '12', 'x-ratelimit-remaining-requests': '9999' };
    if (json?.stream !== true) {
      const bytes = Buffer.from(JSON.stringify(responseJson(reply, model, tool)));
      state.sentBodies[index] = bytes;
      res.writeHead(200, { ...common, 'content-type': 'application/json' });
      return void res.end(bytes);
    }
    res.writeHead(200, { ...common, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const sent: Buffer[] = [];
    const events = responseEvents(reply, model, tool);
    for (let i = 0; i < events.length; i++) {
      if (b.cutAfterEvents !== undefined && i >= b.cutAfterEvents) {
        state.sentBodies[index] = Buffer.concat(sent);
        await sleep(30); // let what was written reach the wire; destroy() drops unflushed writes
        res.socket?.destroy();
        return;
      }
      const bytes = Buffer.from(openaiSseEvent(events[i]!));
      sent.push(bytes);
      res.write(bytes);
      if (b.eventDelayMs) await sleep(b.eventDelayMs);
      if (res.destroyed) return;
    }
    state.sentBodies[index] = Buffer.concat(sent);
    res.end();
  }

  server.keepAliveTimeout = 60_000;
  const loop = await listenLoopback(server);
  return Object.assign(state, { url: loop.url, port: loop.port, baseUrl: `${loop.url}/v1`, close: loop.close }) as MockOpenAI;
}

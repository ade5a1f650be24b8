/**
 * The per-window loopback proxy agents in the editor talk to (claude-code-client.md, plain
 * base-URL mode). It accepts only this window's local secret, swaps in the gateway bearer, and
 * pipes both directions without buffering. Pure Node: no `vscode`, so tests run it directly.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ReplyTap } from './reply-tap';
import { apiFamily, firstString, openAiError, type ApiFamily } from './api-family';
import { parseErrorBody, type ReplyError } from '../status/block';

export interface ProxyTarget {
  baseUrl: string;
  token: string;
}

export interface ProxiedRequest {
  at: Date;
  method: string;
  path: string;
  model: string;
  status: number;
  inputTokens: number;
  outputTokens: number;
  durationMs: number;
  /** The gateway's `request-id` response header. */
  requestId?: string;
  /** A refused request's error envelope (`{type, message}`), as the agent received it. */
  error?: ReplyError;
}

export interface ProxyHooks {
  /** The gateway and a fresh bearer, or undefined when signed out. */
  target(): Promise<ProxyTarget | undefined>;
  /** Every upstream response's headers (usage-limit headers feed the status bar). */
  onResponseHeaders?(headers: IncomingHttpHeaders, status: number): void;
  /** The gateway refused the bearer for good: `401` with `x-should-retry: false`. */
  onRejected?(token: string): void;
  onRequestDone?(r: ProxiedRequest): void;
}

export interface LoopbackProxy {
  url: string;
  port: number;
  secret: string;
  close(): Promise<void>;
}

// Hop-by-hop (RFC 9110 §7.6.1) plus the caller's credentials, which never leave the machine.
const DROP_REQUEST = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'authorization', 'x-api-key', 'proxy-authorization']);
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'proxy-authenticate']);

/**
 * The proxy's own refusals, in the envelope of the agent's API family: Anthropic's for Claude
 * Code, OpenAI's for Codex (codex-client.md: a 401 with `invalid_api_key` is what Codex shows
 * with its message; anything else is retried or printed raw).
 */
function envelope(res: ServerResponse, family: ApiFamily, status: number, type: string, message: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify(family === 'openai' ? openAiError(status, message) : { type: 'error', error: { type, message } }));
}

function presented(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? key.trim() : undefined;
}

function secretMatches(given: string | undefined, secret: Buffer): boolean {
  if (!given) return false;
  const g = Buffer.from(given);
  return g.length === secret.length && timingSafeEqual(g, secret);
}

export async function startLoopbackProxy(hooks: ProxyHooks, opts: { secret?: string; port?: number; preferredPort?: number } = {}): Promise<LoopbackProxy> {
  const secret = opts.secret ?? `tgl-${randomBytes(24).toString('base64url')}`;
  const secretBuf = Buffer.from(secret);

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => envelope(res, apiFamily(req.url ?? '/', req.headers), 502, 'api_error', 'The Tollgate proxy failed to reach the gateway.'));
  });

  // Codex with `supports_websockets = true` first asks for a WebSocket on /v1/responses: 426 makes
  // it fall back to HTTP at once (404/405 cost it seven retries, codex-client.md).
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(openAiError(426, 'The Tollgate proxy speaks HTTP only; set supports_websockets = false.'));
    socket.end(`HTTP/1.1 426 Upgrade Required\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Claude Code probes `HEAD {base}` without credentials at startup; answer at once.
    if (req.method === 'HEAD') {
      res.writeHead(200).end();
      return;
    }
    const family = apiFamily(req.url ?? '/', req.headers);
    if (!secretMatches(presented(req), secretBuf)) {
      req.resume();
      // No "x-api-key" in the text: the CLI would replace it with a generic login hint.
      envelope(res, family, 401, 'authentication_error', 'This local Tollgate proxy only accepts the token of the editor window that started it. Open a new terminal in that window.', { 'x-should-retry': 'false' });
      return;
    }
    const target = await hooks.target();
    if (!target) {
      req.resume();
      envelope(res, family, 401, 'authentication_error', 'Not signed in to the Tollgate gateway. Run "Tollgate: Sign In" from the command palette.', { 'x-should-retry': 'false' });
      return;
    }
    const started = Date.now();
    let requestModel: string | undefined;
    const upstreamUrl = new URL(target.baseUrl.replace(/\/+$/, '') + (req.url ?? '/'));
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !DROP_REQUEST.has(k)) headers[k] = v;
    headers.authorization = `Bearer ${target.token}`;
    const send = upstreamUrl.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(upstreamUrl, { method: req.method, headers });

    upstream.on('response', (up) => {
      const status = up.statusCode ?? 502;
      hooks.onResponseHeaders?.(up.headers, status);
      if (status === 401 && up.headers['x-should-retry'] === 'false') hooks.onRejected?.(target.token);
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !DROP_RESPONSE.has(k)) out[k] = v;
      res.writeHead(status, out);
      res.flushHeaders();
      const tap = new ReplyTap(String(up.headers['content-type'] ?? '').includes('text/event-stream'), family);
      up.on('data', (chunk: Buffer) => {
        tap.write(chunk);
        // Backpressure: a slow agent slows the upstream read instead of growing memory.
        if (!res.write(chunk)) {
          up.pause();
          res.once('drain', () => up.resume());
        }
      });
      up.on('end', () => {
        res.end();
        const summary = tap.finish();
        hooks.onRequestDone?.({
          at: new Date(started),
          method: req.method ?? 'GET',
          path: upstreamUrl.pathname,
          model: summary.model ?? requestModel ?? 'unknown',
          status,
          inputTokens: summary.inputTokens,
          outputTokens: summary.outputTokens,
          durationMs: Date.now() - started,
          requestId: firstString(up.headers['request-id'], up.headers['x-request-id']),
          ...(status >= 400 ? { error: parseErrorBody(tap.text) } : {}),
        });
      });
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (res.headersSent) return res.destroy();
      const message = `The Tollgate proxy could not reach the gateway at ${upstreamUrl.origin}.`;
      envelope(res, family, 502, 'api_error', message);
      hooks.onRequestDone?.({ at: new Date(started), method: req.method ?? 'GET', path: upstreamUrl.pathname, model: requestModel ?? 'unknown', status: 502, inputTokens: 0, outputTokens: 0, durationMs: Date.now() - started, error: { type: 'api_error', message } });
    });
    // The agent hung up: stop the upstream stream too, so the gateway settles what was used.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // The model name sits near the start of the body: peek at the first 64 KiB while piping.
    const sniff: Buffer[] = [];
    let sniffed = 0;
    req.on('data', (chunk: Buffer) => {
      if (sniffed > 65536) return;
      sniffed += chunk.length;
      sniff.push(chunk);
    });
    req.on('end', () => {
      requestModel = /"model"\s*:\s*"([^"]{1,200})"/.exec(Buffer.concat(sniff).toString('utf8'))?.[1];
    });
    req.pipe(upstream);
  }

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen(opts.port ?? opts.preferredPort ?? 0);
  } catch (err) {
    // The port of the last session keeps a written Codex profile valid across restarts; another
    // window holding it is no reason to fail: any free port will do.
    if (opts.port !== undefined || !opts.preferredPort || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await listen(0);
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    secret,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

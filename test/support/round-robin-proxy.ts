/**
 * A small loopback L7 load balancer for scale-out tests: each HTTP request goes to the next
 * backend in turn (as an ingress does), bodies stream both ways, and a backend that refuses
 * the connection (a killed replica) is skipped for that request, the way a load balancer's
 * health checks take it out. A reply cut mid-body is cut for the client too: in-flight
 * requests on a dead replica are lost, nothing else is. `x-backend` tells tests who served.
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

export interface RoundRobinProxy {
  url: string;
  port: number;
  backends: Backend[];
  /** Requests answered per backend index. */
  served: number[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backends: Backend[] = [], port = 0): Promise<RoundRobinProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const state = { backends, served: [] as number[], next: 0 };

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer, tries: number): void {
    const n = state.backends.length;
    if (n === 0 || tries >= n) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('no backend available');
      return;
    }
    const index = state.next++ % n;
    const b = state.backends[index]!;
    const upstream = request(
      { host: b.host, port: b.port, method: req.method, path: req.url, headers: { ...req.headers, host: `${b.host}:${b.port}` }, agent },
      (up) => {
        state.served[index] = (state.served[index] ?? 0) + 1;
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-backend': String(index) });
        up.pipe(res);
        // A replica dying mid-reply: the client's response is cut too (never completed silently).
        up.on('aborted', () => res.destroy());
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (res.headersSent) return void res.destroy();
      // Refused or reset before any reply: this backend is down; the request never reached it.
      if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') return forward(req, res, body, tries + 1);
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`backend error: ${err.code ?? err.message}`);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  }

  const server: Server = createServer((req, res) => {
    // Bodies are small in tests; buffering them lets a refused connection be retried elsewhere.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 0));
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    get backends() {
      return state.backends;
    },
    set backends(b: Backend[]) {
      state.backends = b;
    },
    get served() {
      return state.served;
    },
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  } as RoundRobinProxy;
}

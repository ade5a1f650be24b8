/**
 * Listen on an OS-chosen loopback port and close hard: the test upstreams keep connections
 * alive (as real ones do), so close() destroys open sockets instead of waiting them out.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Loopback {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function listenLoopback(server: Server): Promise<Loopback> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json?: Record<string, unknown>;
}

/** Reads a mock upstream's request whole and records it (JSON parsed when it is JSON); `then` gets its index. */
export function recordRequest(req: IncomingMessage, into: RecordedRequest[], then: (index: number, json: Record<string, unknown> | undefined) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      /* recorded as bytes only */
    }
    then(into.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json }) - 1, json);
  });
}

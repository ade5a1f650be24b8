/**
 * The floor any Node proxy pays on this machine: a reverse proxy that does nothing but relay
 * `POST /v1/messages` to the mock (Node's http server downstream, an undici Pool upstream, the
 * same two libraries the gateway uses, bodies streamed through untouched, no auth, no parsing).
 * Measured as the bench's `null-proxy` target, its added latency and CPU are what a loopback
 * hop costs here, so "gateway minus null proxy" is what the gateway's own work adds.
 * Prints `{"port":N}` on stdout once listening; `--upstream URL` is the mock.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstreamArg = process.argv.indexOf('--upstream');
if (upstreamArg < 0) throw new Error('--upstream URL is required');
const pool = new Pool(process.argv[upstreamArg + 1]!, { connections: 512, pipelining: 1 });

// Hop-by-hop headers (RFC 9110 §7.6.1) stay on their own connection.
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'te', 'upgrade', 'proxy-connection']);

const server = createServer((req, res) => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    if (!HOP.has(name)) headers[name] = req.rawHeaders[i + 1]!;
  }
  pool.request({ method: req.method as 'POST', path: req.url!, headers, body: req }).then(
    (up) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      res.writeHead(up.statusCode, out);
      up.body.pipe(res);
    },
    (err: Error) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: err.message } }));
    },
  );
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});

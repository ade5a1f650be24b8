/**
 * google-auth-library ignores a service account's `token_uri` and always posts to
 * https://oauth2.googleapis.com/token, but honours HTTPS_PROXY and NODE_EXTRA_CA_CERTS. This is
 * a loopback HTTP proxy that answers CONNECT for that one host by terminating TLS itself (with a
 * certificate from a throw-away test CA) and serving the mock Vertex token endpoint; every other
 * host is refused, so nothing leaves the machine. NODE_EXTRA_CA_CERTS is read at process start,
 * so the process using it (the gateway) must be a child started with `env()`.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { makeTestCertificates } from './test-ca';

export const GOOGLE_TOKEN_HOST = 'oauth2.googleapis.com';

export interface GoogleTokenProxy {
  /** HTTPS_PROXY / NO_PROXY / NODE_EXTRA_CA_CERTS for the child process. */
  env(): NodeJS.ProcessEnv;
  /** CONNECT targets seen, e.g. `oauth2.googleapis.com:443`. */
  connects: string[];
  close(): Promise<void>;
}

export async function startGoogleTokenProxy(tokenHandler: (req: IncomingMessage, res: ServerResponse) => void): Promise<GoogleTokenProxy> {
  const { caPath, key, cert } = makeTestCertificates({ dns: [GOOGLE_TOKEN_HOST] });
  const tlsServer = createHttpsServer({ key, cert }, tokenHandler);
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createHttpServer((_req, res) => {
    res.writeHead(403);
    res.end('only CONNECT to oauth2.googleapis.com is allowed');
  });
  proxy.on('connect', (req: IncomingMessage, socket: Socket) => {
    connects.push(req.url ?? '');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (req.url !== `${GOOGLE_TOKEN_HOST}:443`) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    tlsServer.emit('connection', socket);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as AddressInfo).port;
  return {
    connects,
    env: () => ({
      HTTPS_PROXY: `http://127.0.0.1:${port}`,
      NO_PROXY: '127.0.0.1,localhost',
      NODE_EXTRA_CA_CERTS: caPath,
    }),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

/**
 * google-auth-library ignores a service account's `token_uri` and always posts to
 * https://oauth2.googleapis.com/token, but honours HTTPS_PROXY and NODE_EXTRA_CA_CERTS. This is
 * a loopback HTTP proxy that answers CONNECT for that one host by terminating TLS itself (with a
 * certificate from a throw-away test CA) and serving the mock Vertex token endpoint; every other
 * host is refused, so nothing leaves the machine. NODE_EXTRA_CA_CERTS is read at process start,
 * so the process using it (the gateway) must be a child started with `env()`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GOOGLE_TOKEN_HOST = 'oauth2.googleapis.com';

export interface GoogleTokenProxy {
  /** HTTPS_PROXY / NO_PROXY / NODE_EXTRA_CA_CERTS for the child process. */
  env(): NodeJS.ProcessEnv;
  /** CONNECT targets seen, e.g. `oauth2.googleapis.com:443`. */
  connects: string[];
  close(): Promise<void>;
}

function makeCertificates(dir: string): { caPath: string; key: Buffer; cert: Buffer } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Tollgate test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${GOOGLE_TOKEN_HOST}`]);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=DNS:${GOOGLE_TOKEN_HOST}\nextendedKeyUsage=serverAuth\n`);
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'san.ext']);
  return { caPath: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'leaf.key')), cert: readFileSync(join(dir, 'leaf.pem')) };
}

export async function startGoogleTokenProxy(tokenHandler: (req: IncomingMessage, res: ServerResponse) => void): Promise<GoogleTokenProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-ca-'));
  const { caPath, key, cert } = makeCertificates(dir);
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

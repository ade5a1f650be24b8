/**
 * A loopback OAuth server speaking exactly the sign-in wire format of gateway-protocol.md
 * §2.1-§2.5, with scripted token answers, for the extension's sign-in client tests. It records
 * every form it receives so tests assert what the client sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOAuth {
  url: string;
  /** Answers for successive device-grant polls: [status, body]. The last one repeats. */
  pollAnswers: [number, Record<string, unknown>][];
  refreshAnswer: [number, Record<string, unknown>];
  forms: { path: string; form: Record<string, string> }[];
  advertiseRevocation: boolean;
  close(): Promise<void>;
}

export async function startFakeOAuth(): Promise<FakeOAuth> {
  const state: Omit<FakeOAuth, 'url' | 'close'> = {
    pollAnswers: [[200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-1' }]],
    refreshAnswer: [200, { access_token: 'at-2', token_type: 'Bearer', expires_in: 3600, refresh_token: 'rt-2' }],
    forms: [],
    advertiseRevocation: true,
  };
  let base = '';
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number, obj: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(obj));
      };
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method === 'GET' && path === '/.well-known/oauth-authorization-server') {
        return send(200, {
          issuer: base,
          device_authorization_endpoint: `${base}/oauth/device_authorization`,
          token_endpoint: `${base}/oauth/token`,
          ...(state.advertiseRevocation ? { revocation_endpoint: `${base}/oauth/revoke` } : {}),
          grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        });
      }
      const form = Object.fromEntries(new URLSearchParams(body));
      state.forms.push({ path, form });
      if (path === '/oauth/device_authorization') {
        return send(200, { device_code: 'dc-123', user_code: 'WDJB-MJHT', verification_uri: `${base}/device`, verification_uri_complete: `${base}/device?user_code=WDJB-MJHT`, expires_in: 600, interval: 5 });
      }
      if (path === '/oauth/token' && form.grant_type === 'refresh_token') return send(...state.refreshAnswer);
      if (path === '/oauth/token') {
        const answer = state.pollAnswers.length > 1 ? state.pollAnswers.shift()! : state.pollAnswers[0]!;
        return send(...answer);
      }
      if (path === '/oauth/revoke') return send(200, {});
      send(404, { error: 'not_found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url: base,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }) as FakeOAuth;
}

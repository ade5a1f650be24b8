/**
 * Non-streaming replies leave the gateway in one write with an exact Content-Length, and a
 * reply the upstream cuts short becomes a 502 envelope rather than a truncated 200.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';

describe('non-streaming relay', () => {
  let upstream: Server;
  let tdb: TestDatabase;
  let gw: TestGateway;
  const full = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'hi' }], usage: { input_tokens: 3, output_tokens: 1 } });

  before(async function () {
    this.timeout(60_000);
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url?.includes('cut')) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(full.length) });
          res.write(full.slice(0, 10));
          setTimeout(() => res.socket?.destroy(), 20);
        } else {
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
          res.write(full.slice(0, 20));
          setTimeout(() => res.end(full.slice(20)), 20);
        }
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    tdb = await createTestDatabase('postgres');
    gw = await startTestGateway({
      config: testConfig({ upstreams: [{ name: 'a', provider: 'anthropic', base_url: base, auth: { api_key: 'k' } }] }),
      db: tdb.db,
    });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    upstream?.close();
  });

  const post = (search = '') =>
    fetch(`${gw.url}/v1/messages${search}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.mint()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [] }),
    });

  it('relays a chunked upstream reply whole, with Content-Length', async () => {
    const res = await post();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(full.length));
    assert.equal(res.headers.get('transfer-encoding'), null);
    assert.equal(await res.text(), full);
  });

  it('turns a reply cut short into a 502 envelope', async () => {
    const res = await post('?cut=1');
    assert.equal(res.status, 502);
    const body = (await res.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /upstream connection lost/);
    assert.equal(body.request_id, res.headers.get('request-id'));
  });
});

/**
 * Slow clients cannot hold the gateway: a stalled upload and a header block that never ends are
 * answered 408 in the route's shape and closed; 500 stalled connections do not stop a normal
 * request; 2,000 idle and slowloris connections are closed by the gateway itself. The test waits
 * for observable events (the answer, the close), never for wall-clock bounds; short deadlines
 * are configured so the suite stays quick.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { openSocket, parseRawResponse, type RawResponse } from '../support/raw-http';

/** Everything the server sends until it closes the socket. */
function untilClosed(s: Socket): Promise<RawResponse> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => {
    s.once('close', () => resolve(parseRawResponse(Buffer.concat(chunks).toString('utf8'))));
    s.on('error', () => {});
  });
}

async function gatewayWith(tdb: TestDatabase, timeouts: Record<string, number>): Promise<TestGateway> {
  return startTestGateway({ config: testConfig({ timeouts }), db: tdb.db });
}

describe('client timeouts', function () {
  this.timeout(300_000);
  let tdb: TestDatabase;

  before(async () => {
    tdb = await createTestDatabase('pglite');
  });
  after(async () => {
    await tdb?.drop();
  });

  describe('short deadlines', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await gatewayWith(tdb, { client_headers_ms: 600, client_body_idle_ms: 400, client_request_ms: 60_000, keep_alive_ms: 500 });
    });
    after(async () => gw?.close());

    it('answers a stalled upload 408 REQUEST_TIMEOUT in the envelope and closes the connection', async () => {
      const s = await openSocket(gw.url);
      const done = untilClosed(s);
      s.write(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.mint()}\r\nX-Client-Request-Id: stalled-upload-1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
      s.write('{"model":"claude-sonnet-4-6","pad":"' + 'a'.repeat(60));
      const res = await done;
      assert.equal(res.status, 408, res.raw);
      const body = JSON.parse(res.body) as { type: string; error: { type: string; message: string } };
      assert.equal(body.type, 'error');
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, /client_body_idle_ms/);
      // The refused upload is in the audit log too: exactly one row, polled for.
      let rows: { status: number; reason: string; sub: string }[] = [];
      for (let i = 0; i < 400 && rows.length === 0; i++) {
        rows = (await tdb.db.query<{ status: number; reason: string; sub: string }>('SELECT status, reason, sub FROM audit_log WHERE request_id = $1', ['stalled-upload-1'])).rows;
        if (rows.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      assert.deepEqual(rows.map((r) => [Number(r.status), r.reason, r.sub]), [[408, 'REQUEST_TIMEOUT', 'user-1']]);
    });

    it('records an upload the client abandons mid-body (one audit row, client_aborted)', async () => {
      const s = await openSocket(gw.url);
      s.on('error', () => {});
      s.write(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.mint()}\r\nX-Client-Request-Id: abandoned-upload-1\r\nContent-Length: 1000\r\n\r\n{"model":`);
      // Hang up once the gateway holds the request (its in-flight count shows it) and its hooks have run.
      while (gw.app.gateway.state.inFlight === 0) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      s.destroy();
      let rows: { status: number; outcome: string }[] = [];
      for (let i = 0; i < 400 && rows.length === 0; i++) {
        rows = (await tdb.db.query<{ status: number; outcome: string }>('SELECT status, outcome FROM audit_log WHERE request_id = $1', ['abandoned-upload-1'])).rows;
        if (rows.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      assert.deepEqual(rows.map((r) => [Number(r.status), r.outcome]), [[499, 'client_aborted']]);
    });

    it('answers a stalled sign-in form 408 in the OAuth shape', async () => {
      const s = await openSocket(gw.url);
      const done = untilClosed(s);
      s.write('POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\ngrant_type=');
      const res = await done;
      assert.equal(res.status, 408, res.raw);
      assert.equal((JSON.parse(res.body) as { error: string }).error, 'invalid_request');
    });

    it('closes a header block that never ends with 408', async () => {
      const s = await openSocket(gw.url);
      const done = untilClosed(s);
      s.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n');
      const res = await done;
      assert.equal(res.status, 408, res.raw);
      assert.equal((JSON.parse(res.body) as { type: string }).type, 'error');
      // Node's own defaults (60 s, checked every 30 s) would also close it eventually: the deadline in force is ours.
      assert.equal(gw.app.server.headersTimeout, 600);
    });

    it('closes 2,000 idle and slowloris connections (counted closes)', async () => {
      const sockets: Socket[] = [];
      const closes: Promise<unknown>[] = [];
      for (let i = 0; i < 2000; i++) {
        const s = await openSocket(gw.url);
        sockets.push(s);
        closes.push(untilClosed(s));
        // Half say nothing; half start a request and dribble a header byte now and then.
        if (i % 2 === 1) s.write('GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      }
      const dribble = setInterval(() => {
        for (let i = 1; i < sockets.length; i += 2) if (!sockets[i]!.destroyed) sockets[i]!.write('a');
      }, 100);
      try {
        await Promise.all(closes);
      } finally {
        clearInterval(dribble);
      }
      assert.equal(sockets.filter((s) => s.destroyed || s.readyState === 'closed').length, 2000);
    });

    it('closes an idle keep-alive connection after keep_alive_ms', async () => {
      const s = await openSocket(gw.url);
      const done = untilClosed(s);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      const res = await done;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'ok');
    });
  });

  describe('default deadlines', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await gatewayWith(tdb, {});
    });
    after(async () => gw?.close());

    it('documents its defaults: 10 s headers, 10 s body idle, 300 s request, 10 s keep-alive', () => {
      const t = gw.config.timeouts;
      assert.deepEqual(
        [t.client_headers_ms, t.client_body_idle_ms, t.client_request_ms, t.keep_alive_ms],
        [10_000, 10_000, 300_000, 10_000],
      );
      assert.equal(gw.app.server.headersTimeout, 10_000);
      assert.equal(gw.app.server.requestTimeout, 300_000);
      assert.equal(gw.app.server.keepAliveTimeout, 10_000);
    });

    it('serves a normal request while 500 stalled connections are held', async () => {
      const held: Socket[] = [];
      for (let i = 0; i < 500; i++) {
        const s = await openSocket(gw.url);
        s.on('error', () => {});
        // Alternate a stalled header block and a stalled body.
        s.write(i % 2 ? 'GET /v1/models HTTP/1.1\r\nHost: x\r\n' : `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.mint()}\r\nContent-Length: 1000\r\n\r\n{"a":`);
        held.push(s);
      }
      try {
        const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.mint()}` } });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { data: unknown[] };
        assert.ok(body.data.length > 0);
        assert.equal(held.filter((s) => s.destroyed).length, 0, 'the stalled connections were still held');
      } finally {
        for (const s of held) s.destroy();
      }
    });
  });
});

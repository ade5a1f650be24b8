/**
 * Every error Fastify or Node's HTTP parser raises before a route runs is answered in the route
 * family's protocol shape: the Anthropic envelope on /v1/* and /api/*, RFC 6749's error object on
 * /oauth/*, an HTML page on /device. Requests go over bare sockets so nothing is normalised on
 * the way; expected shapes are written out here, not derived from the renderer.
 */
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic';
import { rawHttp, rawRequest, type RawResponse } from '../support/raw-http';

const ADMIN_KEY = 'admin-write-key-0123456789abcdef0123456789';

function anthropic(res: RawResponse, status: number, type: string): { message: string } {
  assert.equal(res.status, status, res.raw.slice(0, 300));
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(res.body) as { type: string; error: { type: string; message: string } };
  assert.equal(body.type, 'error', res.body);
  assert.equal(body.error.type, type, res.body);
  assert.ok(body.error.message.length > 0);
  return body.error;
}

function oauth(res: RawResponse, status: number, error = 'invalid_request'): { error_description?: string } {
  assert.equal(res.status, status, res.raw.slice(0, 300));
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = JSON.parse(res.body) as { error: string; error_description?: string };
  assert.equal(body.error, error, res.body);
  return body;
}

function page(res: RawResponse, status: number): void {
  assert.equal(res.status, status, res.raw.slice(0, 300));
  assert.match(res.headers['content-type'] ?? '', /^text\/html/);
  assert.match(res.body, /<!doctype html>/i);
}

describe('edge errors in the route family\'s shape', function () {
  this.timeout(120_000);
  let tdb: TestDatabase;
  let gw: TestGateway;
  let mock: MockAnthropic;

  before(async () => {
    mock = await startMockAnthropic({ apiKey: 'sk-upstream-test' });
    tdb = await createTestDatabase('pglite');
    const config = testConfig({
      upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
      admin: { write_keys: [{ id: 'ops', key: ADMIN_KEY }] },
      limits: { max_request_bytes: 256 * 1024, max_request_header_bytes: 16 * 1024, max_url_length: 4096 },
    });
    gw = await startTestGateway({ config, db: tdb.db });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await mock?.close();
  });
  beforeEach(() => {
    mock.requests.length = 0;
  });

  it('malformed HTTP: our envelope (MALFORMED_HTTP), OAuth shape when the request line names /oauth/*', async () => {
    anthropic(await rawRequest(gw.url, 'GARBAGE\r\n\r\n'), 400, 'invalid_request_error');
    anthropic(await rawRequest(gw.url, 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 400, 'invalid_request_error');
    oauth(await rawRequest(gw.url, 'POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 400);
    anthropic(await rawRequest(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'), 400, 'invalid_request_error');
  });

  it('414 for a URL over limits.max_url_length, never echoing the path', async () => {
    const long = 'x'.repeat(10_000);
    for (const path of [`/v1/models?q=${long}`, `/api/oauth/usage?q=${long}`, `/${long}`]) {
      const res = await rawHttp(gw.url, 'GET', path, {});
      anthropic(res, 414, 'invalid_request_error');
      assert.ok(!res.body.includes('xxxxxxxxxxxxxxxx'), 'path not echoed');
    }
    const o = oauth(await rawHttp(gw.url, 'POST', `/oauth/token?q=${long}`, { 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=x'), 414);
    assert.ok(!(o.error_description ?? '').includes('xxxxxxxx'));
    page(await rawHttp(gw.url, 'GET', `/device?user_code=${long}`, {}), 414);
  });

  it('a 404 for a long unknown path does not echo it', async () => {
    const res = await rawHttp(gw.url, 'GET', `/v1/${'y'.repeat(3000)}`, {});
    anthropic(res, 404, 'not_found_error');
    assert.ok(res.body.length < 600, `body stays short (${res.body.length})`);
  });

  it('431 for oversized headers, in the family\'s shape', async () => {
    const big = { 'x-big': 'z'.repeat(20 * 1024) };
    anthropic(await rawHttp(gw.url, 'GET', '/v1/models', big), 431, 'invalid_request_error');
    oauth(await rawHttp(gw.url, 'POST', '/oauth/token', big, ''), 431);
  });

  it('413: Anthropic envelope on /v1/messages, OAuth shape with a sentence for a 1 MB sign-in form, a page on /device', async () => {
    const token = gw.mint();
    const bigJson = `{"model":"claude-sonnet-4-6","pad":"${'p'.repeat(300 * 1024)}"}`;
    anthropic(
      await rawHttp(gw.url, 'POST', '/v1/messages', { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-client-request-id': 'too-large-1' }, bigJson),
      413,
      'request_too_large',
    );
    let rows: { status: number }[] = [];
    for (let i = 0; i < 400 && rows.length === 0; i++) {
      rows = (await tdb.db.query<{ status: number }>('SELECT status FROM audit_log WHERE request_id = $1', ['too-large-1'])).rows;
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(rows.map((r) => Number(r.status)), [413], 'the refused request has its audit row');
    const form = `grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=abc&junk=${'j'.repeat(1024 * 1024)}`;
    const o = oauth(await rawHttp(gw.url, 'POST', '/oauth/token', { 'content-type': 'application/x-www-form-urlencoded' }, form), 413);
    assert.match(o.error_description ?? '', /limit|large/);
    page(await rawHttp(gw.url, 'POST', '/device', { 'content-type': 'application/x-www-form-urlencoded' }, form), 413);
  });

  it('bad percent-encoding in the path: envelope on /v1/*, OAuth shape on /oauth/*', async () => {
    anthropic(await rawHttp(gw.url, 'POST', '/v1/organizations/users/%ED%A0%80/sessions/revoke', { 'x-api-key': ADMIN_KEY }), 400, 'invalid_request_error');
    oauth(await rawHttp(gw.url, 'POST', '/oauth/%ff', {}, ''), 400);
  });

  it('parser errors on JSON admin routes (invalid JSON, unsupported media type) are ours', async () => {
    const e = anthropic(await rawHttp(gw.url, 'POST', '/v1/organizations/spend_limits', { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, '{"scope":'), 400, 'invalid_request_error');
    assert.equal(e.message, 'invalid JSON');
    anthropic(await rawHttp(gw.url, 'POST', '/v1/organizations/spend_limits', { 'x-api-key': ADMIN_KEY, 'content-type': 'text/xml' }, '<a/>'), 415, 'invalid_request_error');
  });

  it('Expect other than 100-continue: 417 in our envelope', async () => {
    anthropic(await rawHttp(gw.url, 'POST', '/v1/messages', { expect: 'something-else', 'content-type': 'application/json' }, '{}'), 417, 'invalid_request_error');
  });

  it('refuses duplicate top-level keys and deep nesting on /v1/messages before anything reaches the upstream', async () => {
    const headers = { authorization: `Bearer ${gw.mint()}`, 'content-type': 'application/json' };
    const dup = anthropic(await rawHttp(gw.url, 'POST', '/v1/messages', headers, '{"model":"claude-opus-4-8","max_tokens":1,"messages":[],"model":"claude-sonnet-4-6"}'), 400, 'invalid_request_error');
    assert.match(dup.message, /"model"/);
    const deep = `{"model":"claude-sonnet-4-6","max_tokens":1,"messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
    anthropic(await rawHttp(gw.url, 'POST', '/v1/messages', headers, deep), 400, 'invalid_request_error');
    assert.equal(mock.requests.length, 0, 'nothing forwarded');
  });
});

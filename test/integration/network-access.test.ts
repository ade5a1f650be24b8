/**
 * access_control.allow_cidrs / deny_cidrs on a real gateway over real PostgreSQL: refused
 * addresses get 403 in the route's protocol shape before any handler runs, X-Forwarded-For is
 * believed only from listen.trusted_proxies, probes stay open, and denials are audited once per
 * address, reason and minute.
 */
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';

const T0 = Date.parse('2026-01-05T10:00:05Z');

describe('network access control (allow_cidrs / deny_cidrs)', function () {
  this.timeout(60_000);
  let tdb: TestDatabase;
  let gw: TestGateway;
  let now = T0;

  before(async () => {
    tdb = await createTestDatabase('postgres');
    gw = await startTestGateway({
      db: tdb.db,
      clock: { now: () => now },
      config: testConfig({
        listen: { host: '127.0.0.1', port: 0, trusted_proxies: ['127.0.0.1'] },
        access_control: { allow_cidrs: ['10.0.0.0/8', '2001:db8::/32'], deny_cidrs: ['10.9.0.0/16'] },
      }),
    });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
  });

  const from = (address: string, path = '/v1/models', init: RequestInit = {}) =>
    fetch(`${gw.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': address } });
  const deniedRows = async () =>
    (await tdb.db.query<{ reason: string; detail: { address: string; path: string } }>(
      `SELECT reason, detail FROM audit_log WHERE event = 'access.denied' ORDER BY id`,
    )).rows.map((r) => `${r.detail.address} ${r.reason} ${r.detail.path}`);

  it('lets an allowed address through to the route (which then asks for a bearer)', async () => {
    for (const addr of ['10.1.2.3', '2001:db8::5']) {
      const res = await from(addr);
      assert.equal(res.status, 401, addr);
      assert.equal(((await res.json()) as { error: { type: string } }).error.type, 'authentication_error');
    }
  });

  it('refuses an address outside the allow list with 403 in the Anthropic envelope', async () => {
    const res = await from('192.0.2.7', '/v1/messages', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-should-retry'), 'false');
    const body = (await res.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'permission_error');
    assert.match(body.error.message, /does not accept connections from your network address/);
    assert.equal(body.request_id, res.headers.get('x-request-id'));
  });

  it('lets a deny entry win over an allow entry', async () => {
    assert.equal((await from('10.9.0.1')).status, 403);
  });

  it('answers /oauth/* in the OAuth shape', async () => {
    const res = await from('192.0.2.7', '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&refresh_token=x',
    });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'access_denied');
    assert.match(body.error_description, /network address/);
  });

  it('answers the browser pages with a page saying what to do', async () => {
    const res = await from('192.0.2.7', '/device?user_code=ABCD-EFGH');
    assert.equal(res.status, 403);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /<h1>Not available from your network<\/h1>/);
    assert.match(html, /connect through your organisation&#39;s network \(VPN\) or ask your administrator/);
    assert.doesNotMatch(html, /<form/);
  });

  it('keeps /healthz and /readyz open for orchestrator probes', async () => {
    assert.equal((await from('192.0.2.7', '/healthz')).status, 200);
    assert.equal((await from('192.0.2.7', '/readyz')).status, 200);
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const strict = await startTestGateway({
      db: tdb.db,
      config: testConfig({ access_control: { allow_cidrs: ['10.0.0.0/8'] } }),
    });
    try {
      // The socket peer is 127.0.0.1, not trusted: the forged header must not let it in.
      const res = await fetch(`${strict.url}/v1/models`, { headers: { 'x-forwarded-for': '10.1.2.3' } });
      assert.equal(res.status, 403);
    } finally {
      await strict.close();
    }
  });

  it('audits one row per address, reason and minute', async () => {
    // Rows so far (same minute): 192.0.2.7 refused on /v1/messages and /oauth/token (one row),
    // 10.9.0.1 denied (one row); the strict gateway's 127.0.0.1 (one row).
    for (let i = 0; i < 5; i++) assert.equal((await from('192.0.2.7')).status, 403);
    assert.deepEqual(await deniedRows(), [
      '192.0.2.7 not_in_allow_list /v1/messages',
      '10.9.0.1 deny_list /v1/models',
      '127.0.0.1 not_in_allow_list /v1/models',
    ]);
    now = T0 + 60_000;
    assert.equal((await from('192.0.2.7')).status, 403);
    assert.equal((await deniedRows()).length, 4);
    assert.equal((await deniedRows())[3], '192.0.2.7 not_in_allow_list /v1/models');
  });

  it('refuses a malformed range or proxy at boot', () => {
    assert.throws(
      () => testConfig({ access_control: { allow_cidrs: ['10.0.0.0/33'] } }),
      (err: Error & { problems?: string[] }) =>
        err.problems?.[0] === 'access_control.allow_cidrs.0: must be a CIDR range such as 10.0.0.0/8 or fc00::/7, or a single address.',
    );
    assert.throws(
      () => testConfig({ listen: { host: '127.0.0.1', port: 0, trusted_proxies: ['ingress.internal'] } }),
      (err: Error & { problems?: string[] }) =>
        err.problems?.[0] === 'listen.trusted_proxies.0: must be an address, a CIDR range, or loopback / linklocal / uniquelocal.',
    );
    assert.equal(testConfig({ listen: { host: '127.0.0.1', port: 0, trusted_proxies: ['loopback', '10.0.0.0/8'] } }).listen.trusted_proxies.length, 2);
  });
});

/**
 * GET /protocol documents exactly the routes the gateway registered (every one described, no
 * description left for a route that no longer exists), every error code and every usage-limit
 * header, so the page stays true as the code changes.
 */
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { startTestIdp, type TestIdp } from '../support/test-idp';
import { ROUTE_DOCS } from '../../gateway-server/src/protocol-page';
import { ERRORS } from '../../gateway-server/src/errors';
import { USAGE_HEADERS } from '../../gateway-server/src/spend/standing';

describe('GET /protocol', function () {
  this.timeout(60_000);
  let idp: TestIdp;
  let tdb: TestDatabase;
  let gw: TestGateway;
  let page: string;
  let res: Response;

  before(async () => {
    idp = await startTestIdp({ redirectUris: ['http://127.0.0.1:1/oauth/callback'] });
    tdb = await createTestDatabase('pglite');
    // Every feature that adds routes: identity, admin, telemetry.
    gw = await startTestGateway({
      db: tdb.db,
      config: testConfig({
        oidc: idp.oidcConfig(),
        admin: { write_keys: [{ id: 'ops', key: 'protocol-page-admin-key-0123456789abcdef' }] },
        telemetry: { forward_to: [{ url: 'http://127.0.0.1:4318' }] },
      } as Parameters<typeof testConfig>[0]),
    });
    res = await fetch(`${gw.url}/protocol`);
    page = await res.text();
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await idp?.close();
  });

  it('is public markdown', () => {
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/markdown; charset=utf-8/);
    assert.match(page, /^# Tollgate gateway protocol/);
  });

  it('describes every registered route, and only those', () => {
    const rows = [...page.matchAll(/^\| `((?:GET|POST|PUT|PATCH|DELETE) [^`]+)` \| ([^|]+) \|/gm)].map((m) => ({ route: m[1]!, auth: m[2]!.trim() }));
    assert.deepEqual(rows.filter((r) => r.auth === '?').map((r) => r.route), [], 'routes without a ROUTE_DOCS entry');
    assert.deepEqual(
      Object.keys(ROUTE_DOCS).filter((k) => !rows.some((r) => r.route === k)),
      [],
      'ROUTE_DOCS entries for routes this gateway does not register',
    );
  });

  it('lists every error code and usage-limit header', () => {
    for (const code of Object.keys(ERRORS)) assert.ok(page.includes(`| \`${code}\` |`), code);
    for (const h of Object.values(USAGE_HEADERS)) assert.ok(page.includes(`| \`${h}\` |`), h);
  });
});

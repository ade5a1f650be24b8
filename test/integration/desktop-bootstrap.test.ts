/**
 * GET /user/bootstrap (Claude Desktop's configuration) answers as Anthropic's gateway does: the
 * same callers get 200 or 404, with the same bodies, headers and error messages, for the same
 * managed policies. Both gateways run side by side here (`claude gateway` 2.1.332 from the npm
 * devDependency) and every caller is asked both. Also: each answer is an audit event.
 */
import assert from 'node:assert/strict';
import { createPostgresDatabase, createTestDatabase, type TestDatabase } from '../support/db';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import { officialSessionToken, startOfficialGateway, type OfficialGateway } from '../../bench/official-gateway';

const JWT_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const ADMIN_KEY = 'bench-admin-write-key-0123456789abcdef';

// Models both catalogues know, so the lists can be compared (their 1M-context flags differ).
const blocks = {
  managed: {
    policies: [
      {
        match: { groups: ['contractors'] },
        cli: {
          availableModels: ['claude-haiku-4-5'],
          permissions: { deny: ['WebFetch', 'Bash(rm:*)', 'Read(./.env)'] },
          sandbox: { network: { allowedDomains: ['github.com', '*.npmjs.org'] } },
        },
        desktop: { isLocalDevMcpEnabled: false },
      },
      { match: { groups: ['nodesk'] }, cli: { availableModels: ['claude-sonnet-4-6'] } },
      { match: { groups: ['finops'] }, cli: { availableModels: ['claude-sonnet-4-6'] }, desktop: { isLocalDevMcpEnabled: true } },
      { match: {}, cli: { availableModels: ['claude-sonnet-4-6', 'claude-opus-4-8'], permissions: { deny: ['WebSearch'] } } },
    ],
  },
  admin: { write_keys: [{ id: 'bench', key: ADMIN_KEY }], admin_groups: ['finops'] },
  telemetry: { forward_to: [{ url: 'http://127.0.0.1:4318', metrics: true, logs: true }] },
};

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

async function ask(url: string, token: string): Promise<Answer> {
  const r = await fetch(`${url}/user/bootstrap`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, headers: Object.fromEntries(r.headers), body: (await r.json()) as Record<string, unknown> };
}

/** What may differ between the two gateways: their URLs, the time, request ids, dated model IDs and 1M flags. */
function comparable(a: Answer, url: string): unknown {
  const b = JSON.parse(JSON.stringify(a.body).replaceAll(url, '<gateway>')) as Record<string, unknown>;
  if (a.status !== 200) return { status: a.status, type: (b.error as { type: string }).type, message: (b.error as { message: string }).message };
  const nowS = Date.now() / 1000;
  assert.ok(Math.abs((b.expiresAt as number) - (nowS + 3600)) < 60, `expiresAt ${b.expiresAt} is not an hour from now`);
  delete b.expiresAt;
  b.inferenceModels = (b.inferenceModels as { name: string }[]).map((m) => m.name.replace(/-\d{8}$/, '')).sort();
  return { status: a.status, spendAdmin: a.headers['x-gateway-spend-admin'], cache: a.headers['cache-control'], keys: Object.keys(a.body), body: b };
}

describe('GET /user/bootstrap against Anthropic gateway', function () {
  this.timeout(90_000);
  let official: OfficialGateway;
  let officialDb: { url: string; drop(): Promise<void> };
  let tdb: TestDatabase;
  let gw: TestGateway;

  before(async function () {
    this.timeout(60_000);
    officialDb = await createPostgresDatabase();
    official = await startOfficialGateway({
      kind: 'official-bare',
      mockUrl: 'http://127.0.0.1:9',
      pgUrl: officialDb.url,
      jwtSecret: JWT_SECRET,
      adminKey: ADMIN_KEY,
      user: { sub: 'unused', email: 'unused@example.com', groups: [] },
      availableModels: [],
      configOverrides: blocks,
    });
    tdb = await createTestDatabase('postgres');
    gw = await startTestGateway({ config: testConfig(blocks), db: tdb.db });
  });
  after(async () => {
    await gw?.close();
    await tdb?.drop();
    await official?.stop();
    await officialDb?.drop();
  });

  const callers: [label: string, groups: string[]][] = [
    ['a policy with a desktop block (merged onto the catch-all)', ['contractors']],
    ['an admin group, with a desktop block', ['finops']],
    ['a policy without one', ['nodesk']],
    ['only the catch-all, without one', ['everyone-else']],
  ];
  for (const [label, groups] of callers) {
    it(`answers alike for ${label}`, async () => {
      const user = { sub: `u-${groups[0]}`, email: `${groups[0]}@example.com`, groups };
      const theirs = await ask(official.url, officialSessionToken(JWT_SECRET, official.url, user));
      const ours = await ask(gw.url, gw.mint(user));
      assert.deepEqual(comparable(ours, gw.url), comparable(theirs, official.url));
    });
  }

  it('refuses a caller without a session, as every bearer route does', async () => {
    const r = await fetch(`${gw.url}/user/bootstrap`);
    assert.equal(r.status, 401);
  });

  it('records each answer as an audit event, with the policy or the reason', async () => {
    const { rows } = await tdb.db.query<{ event: string; sub: string; outcome: string; reason: string | null; detail: Record<string, unknown> | null }>(
      "SELECT event, sub, outcome, reason, detail FROM audit_log WHERE event LIKE 'desktop_bootstrap.%' ORDER BY id",
    );
    assert.deepEqual(
      rows.map((r) => [r.event, r.sub, r.outcome, r.reason]),
      [
        ['desktop_bootstrap.serve', 'u-contractors', 'ok', null],
        ['desktop_bootstrap.serve', 'u-finops', 'ok', null],
        ['desktop_bootstrap.denied', 'u-nodesk', 'denied', 'policy_not_opted_in'],
        ['desktop_bootstrap.denied', 'u-everyone-else', 'denied', 'policy_not_opted_in'],
      ],
    );
    assert.equal(rows[0]!.detail?.policy_index, 0);
  });
});

/**
 * Soft mode (meter after, block the next request), fail-open and fail-closed when the spend store
 * errors, and the charge for a client that hangs up mid-stream.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startMockAnthropic, sleep, type MockAnthropic } from '../support/mock-anthropic';
import { createTestDatabase, storeKinds, type TestDatabase } from '../support/db';
import { setSpendLimit } from '../support/spend-limits';
import { startTestGateway, testConfig, type TestGateway } from '../support/gateway';
import type { Db } from '../../gateway-server/src/store/db';

const WRITE_KEY = 'wk-0123456789abcdef0123456789abcdef';

/** The same database, with the spend statements failing while `broken` is set. */
function flaky(db: Db, state: { broken: boolean }): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (sql: string, params?: unknown[]) => {
          if (state.broken && /tollgate_spend_reserve|tollgate_spend_lease\(|FROM spend_counters/.test(sql)) return Promise.reject(new Error('simulated store outage'));
          return target.query(sql, params);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

for (const kind of storeKinds()) {
  describe(`spend enforcement modes (${kind})`, function () {
    let mock: MockAnthropic;
    let tdb: TestDatabase;
    const gws: TestGateway[] = [];
    const state = { broken: false };

    before(async function () {
      this.timeout(120_000);
      mock = await startMockAnthropic();
      tdb = await createTestDatabase(kind);
    });
    after(async () => {
      for (const g of gws) await g.close();
      await tdb?.drop();
      await mock?.close();
    });
    beforeEach(() => {
      mock.queue = [];
      mock.defaults = {};
      state.broken = false;
    });

    const start = async (extra: Record<string, unknown>) => {
      const config = testConfig({
        upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
        admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
        ...extra,
      });
      const gw = await startTestGateway({ config, db: flaky(tdb.db, state) });
      gws.push(gw);
      return gw;
    };
    const setLimit = async (gw: TestGateway, user: string, amount: string) => {
      await setSpendLimit({ via: gw.url, adminKey: WRITE_KEY, userId: user, amount });
    };
    const ask = (gw: TestGateway, sub: string, extra: Record<string, unknown> = {}) =>
      fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.mint({ sub })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5000, messages: [{ role: 'user', content: 'hi' }], ...extra }),
      });

    it('soft mode meters after the response and blocks the next request (the official behaviour)', async () => {
      const gw = await start({ enforcement: { mode: 'soft' } });
      await setLimit(gw, 'soft-user', '1');
      mock.defaults = { reply: { inputTokens: 1000, outputTokens: 1000 } }; // 18 000 µ$: over the 1-cent cap
      const first = await ask(gw, 'soft-user');
      assert.equal(first.status, 200, 'soft mode does not reserve: the worst case is not checked');
      await first.text();
      const second = await ask(gw, 'soft-user');
      assert.equal(second.status, 429);
      assert.equal(second.headers.get('anthropic-ratelimit-unified-status'), 'rejected');
      const { rows } = await tdb.db.query<{ spent_micros: string }>("SELECT spent_micros FROM spend_counters WHERE principal = 'soft-user'");
      assert.ok(rows.every((r) => r.spent_micros === '18000'));
    });

    it('hard mode (default) stays hard when the store errors: 503 SPEND_STORE_UNREACHABLE, never admitted unchecked', async () => {
      for (const reservation of ['lease', 'request']) {
        const gw = await start({ enforcement: { reservation } });
        const user = `hard-outage-${reservation}`;
        await setLimit(gw, user, '100');
        const before = mock.requests.length;
        state.broken = true;
        const r = await ask(gw, user);
        assert.equal(r.status, 503, reservation);
        assert.equal(r.headers.get('retry-after'), '5');
        const body = (await r.json()) as { error: { type: string; message: string } };
        assert.equal(body.error.type, 'api_error');
        assert.match(body.error.message, /spend limits cannot be checked/);
        assert.equal(mock.requests.length, before, 'the refused request never reached the upstream');
        state.broken = false;
      }
    });

    it('hard lease mode keeps admitting from the slice it already holds when the store errors', async () => {
      const gw = await start({});
      await setLimit(gw, 'leased-user', '1000');
      const first = await ask(gw, 'leased-user');
      assert.equal(first.status, 200);
      await first.text();
      state.broken = true;
      const second = await ask(gw, 'leased-user');
      assert.equal(second.status, 200, 'the held slice covers it: admitted without asking the store');
      await second.text();
    });

    it('soft mode fails open when the store errors: admitted, no usage headers', async () => {
      const gw = await start({ enforcement: { mode: 'soft' } });
      // The caller is over its cap first, so the store-broken 200 below can only be the fail-open path.
      await setLimit(gw, 'open-user', '1');
      mock.defaults = { reply: { inputTokens: 1000, outputTokens: 1000 } }; // 18 000 µ$: over the 1-cent cap
      const first = await ask(gw, 'open-user');
      assert.equal(first.status, 200);
      await first.text();
      const refused = await ask(gw, 'open-user');
      assert.equal(refused.status, 429, 'the cap is enforced while the store works');
      await refused.text();
      state.broken = true;
      const r = await ask(gw, 'open-user');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('anthropic-ratelimit-unified-status'), null);
      await r.text();
    });

    it('soft mode says at boot that it fails open; hard mode does not', async () => {
      const bootLog = async (enforcement: Record<string, unknown>) => {
        const lines: string[] = [];
        const config = testConfig({
          upstreams: [{ name: 'anthropic', provider: 'anthropic', base_url: mock.url, auth: { api_key: 'sk-upstream-test' } }],
          admin: { write_keys: [{ id: 'ops', key: WRITE_KEY }] },
          enforcement,
        });
        const gw = await startTestGateway({ config, db: tdb.db, logger: { level: 'warn', stream: { write: (l: string) => void lines.push(l) } } });
        gws.push(gw);
        return lines.map((l) => (JSON.parse(l) as { evt?: string; msg: string })).filter((l) => l.evt === 'spend.fail_open');
      };
      const soft = await bootLog({ mode: 'soft' });
      assert.equal(soft.length, 1);
      assert.match(soft[0]!.msg, /admitted without a cap check \(fail-open\)/);
      assert.deepEqual(await bootLog({}), []);
      assert.deepEqual(await bootLog({ mode: 'soft', fail_closed_on_error: true }), []);
    });

    it('fails closed when configured: 429 "spend limit unavailable" with fetch_error', async () => {
      const gw = await start({ enforcement: { fail_closed_on_error: true } });
      await setLimit(gw, 'closed-user', '100');
      state.broken = true;
      const r = await ask(gw, 'closed-user');
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('x-should-retry'), 'false');
      assert.equal(r.headers.get('anthropic-ratelimit-unified-overage-disabled-reason'), 'fetch_error');
      assert.equal(r.headers.get('retry-after'), null);
      const body = (await r.json()) as { error: { type: string; message: string } };
      assert.deepEqual([body.error.type, body.error.message], ['billing_error', 'spend limit unavailable']);
    });

    it('charges a stream the client hung up on: reported usage, output at least 4 characters per token', async () => {
      const gw = await start({});
      await setLimit(gw, 'quitter', '100');
      mock.queue = [{ eventDelayMs: 200, reply: { inputTokens: 40, outputTokens: 900, text: 'x'.repeat(4000) } }];
      // A plain socket the test destroys once the first delta arrives (the client hanging up).
      await new Promise<void>((resolve, reject) => {
        const u = new URL(`${gw.url}/v1/messages`);
        const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5000, stream: true, messages: [{ role: 'user', content: 'hi' }] });
        const req = httpRequest(
          { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${gw.mint({ sub: 'quitter' })}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            let seen = '';
            res.on('data', (c) => {
              seen += c;
              if (seen.includes('content_block_delta')) {
                req.destroy();
                resolve();
              }
            });
          },
        );
        req.on('error', () => {});
        req.on('close', () => resolve());
        req.end(body);
        setTimeout(() => reject(new Error('no delta')), 10_000);
      });
      let rows: { cost_micros: string; estimated: boolean }[] = [];
      for (let i = 0; i < 100 && rows.length === 0; i++) {
        await sleep(30);
        rows = (await tdb.db.query<{ cost_micros: string; estimated: boolean }>("SELECT cost_micros, estimated FROM spend_ledger WHERE principal = 'quitter'")).rows;
      }
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.estimated, true);
      // 40 input tokens at 3 µ$ + output ≥ the one token message_start reported, at 15 µ$.
      const cost = BigInt(rows[0]!.cost_micros);
      assert.ok(cost >= 40n * 3n + 15n, `charged ${cost}`);
      const { rows: open } = await tdb.db.query("SELECT id FROM spend_reservations WHERE principal = 'quitter'");
      assert.equal(open.length, 0, 'reservation released');
    });
  });
}

/**
 * The console's pure pieces: escaping, dollars to cents, exact micro-dollar formatting, CSV cells,
 * the signed cookie, roles, and the batch pre-aggregation the audit writer commits with each batch.
 */
import assert from 'node:assert/strict';
import { html } from '../../gateway-server/src/console/web/html';
import { dollarsToCents } from '../../gateway-server/src/console/web/routes';
import { microsToUsd } from '../../gateway-server/src/console/reports';
import { csvCell } from '../../gateway-server/src/console/reports-routes';
import { CookieSigner, roleOf } from '../../gateway-server/src/console/web/session';
import { aggregate } from '../../gateway-server/src/console/rollup';
import { planRange, splitAtBuckets, type Costs, type Segment } from '../../gateway-server/src/console/plan';
import type { AuditContent } from '../../gateway-server/src/audit/record';

describe('console (pure)', () => {
  it('html escapes every interpolated value unless it is already html', () => {
    const name = `<script>alert("x")</script>'&`;
    assert.equal(html`<b title="${name}">${name}</b>`.value, '<b title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;</b>');
    assert.equal(html`<p>${html`<i>${'a<b'}</i>`}${[1, '<', null]}</p>`.value, '<p><i>a&lt;b</i>1&lt;</p>');
  });

  it('dollars as typed become cent strings; anything else is refused', () => {
    assert.equal(dollarsToCents('0.01'), '1');
    assert.equal(dollarsToCents('$1,250.5'), '125050');
    assert.equal(dollarsToCents(' 20 '), '2000');
    for (const bad of ['', '-1', '1.001', 'abc', '1e3', '0x10']) assert.equal(dollarsToCents(bad), undefined, bad);
  });

  it('micro-dollars format as exact dollars', () => {
    assert.equal(microsToUsd('1534009'), '1.534009');
    assert.equal(microsToUsd('3000000'), '3');
    assert.equal(microsToUsd('120'), '0.00012');
    assert.equal(microsToUsd('123456789012345678901'), '123456789012345.678901');
  });

  it('CSV cells are quoted when needed and formulas defused', () => {
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell(null), '');
  });

  it('the session cookie opens only unaltered and unexpired; __Host- names over https', () => {
    const c = new CookieSigner('s'.repeat(32), true);
    assert.equal(c.session, '__Host-tg_console');
    assert.match(c.setCookie(c.session, 'v', 60), /; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    const sealed = c.seal({ sub: 'alice', exp: 2000 });
    assert.deepEqual(c.open(sealed, 1_000_000), { sub: 'alice', exp: 2000 });
    assert.equal(c.open(sealed, 2_000_000), undefined);
    assert.equal(c.open(`${sealed.slice(0, -2)}AA`, 1_000_000), undefined);
    assert.equal(new CookieSigner('t'.repeat(32), true).open(sealed, 1_000_000), undefined);
    assert.equal(new CookieSigner('s'.repeat(32), false).session, 'tg_console');
  });

  it('admin_groups act, viewer_groups look, others none', () => {
    const admin = { admin_groups: ['ops'], viewer_groups: ['finops'] };
    assert.equal(roleOf(['finops', 'ops'], admin), 'admin');
    assert.equal(roleOf(['finops'], admin), 'viewer');
    assert.equal(roleOf(['eng'], admin), 'none');
  });

  it("a batch's inference rows pre-aggregate per quarter-hour × user × groups × model × upstream", () => {
    const row = (at: string, sub: string, cost: string | null, outcome = 'ok', event = 'inference'): AuditContent => ({
      at: new Date(at), event, request_id: null, sub, email: null, groups: ['eng'], actor: null, surface: null, session_id: null, model: 'm', upstream: 'u',
      status: 200, outcome, reason: null, input_tokens: '10', output_tokens: null, cache_read_tokens: '5', cache_creation_tokens: '1', cost_micros: cost, latency_ms: 1, detail: null,
    });
    const rows = aggregate([
      row('2026-11-01T10:00:00.000Z', 'a', '100'),
      row('2026-11-01T10:14:59.999Z', 'a', null, 'upstream_error'),
      row('2026-11-01T10:15:00.000Z', 'a', '7'),
      row('2026-11-01T10:30:00.000Z', 'b', '1', 'blocked_spend'),
      row('2026-11-01T10:30:00.000Z', 'a', '1000', 'ok', 'session.mint'),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.t, r.sub, r.requests, r.errors, String(r.input_tokens), String(r.cache_read_tokens), String(r.cost_micros)]),
      [
        ['2026-11-01T10:00:00.000Z', 'a', 2, 1, '20', '10', '100'],
        ['2026-11-01T10:15:00.000Z', 'a', 1, 0, '10', '5', '7'],
        ['2026-11-01T10:30:00.000Z', 'b', 1, 0, '10', '5', '1'],
      ],
    );
  });

  describe('range plans (which rollup blocks a range reads)', () => {
    const H = 3_600_000;
    const small: Costs = { grains: [15, 60, 360, 1440], weights: [1, 1, 1.2, 1.5], auditPerQuarter: 8 };
    const user: Costs = { grains: [60, 1440, 10080], weights: [1, 8, 10], auditPerQuarter: 1 };
    /** How many times the millisecond `at` is counted by the signed segments. */
    const coverage = (segs: Segment[], at: number) => segs.reduce((n, s) => n + (s.lo <= at && at < s.hi ? s.sign : 0), 0);
    const check = (segs: Segment[], a: number, b: number, costs: Costs) => {
      const points = new Set<number>();
      for (const s of segs) for (const t of [s.lo, s.hi]) for (const d of [-1, 0, 1]) points.add(t + d);
      for (const t of [a - 1, a, b - 1, b]) points.add(t);
      // Coverage changes only at segment edges: the midpoints between them cover the rest.
      const sorted = [...points].sort((x, y) => x - y);
      for (let i = 1; i < sorted.length; i++) points.add(Math.floor((sorted[i - 1]! + sorted[i]!) / 2));
      for (const t of points) assert.equal(coverage(segs, t), t >= a && t < b ? 1 : 0, `at ${new Date(t).toISOString()} for [${new Date(a).toISOString()}, ${new Date(b).toISOString()})`);
      for (const s of segs) {
        assert.ok(s.grain === 0 || costs.grains.includes(s.grain), `grain ${s.grain}`);
        if (s.grain) assert.equal(((s.lo - Date.UTC(2000, 0, 3)) / 60_000) % s.grain, 0, 'blocks are aligned to Monday 2000-01-03');
      }
    };
    const T = Date.parse('2026-11-02T00:00:00Z'); // a Monday

    it('a Kolkata day is whole UTC blocks, quarter-hours at its half-hour edges, no audit rows', () => {
      const a = T - 5.5 * H;
      const segs = planRange(a, a + 24 * H, small);
      check(segs, a, a + 24 * H, small);
      assert.ok(!segs.some((s) => s.grain === 0), JSON.stringify(segs));
      assert.ok(segs.length <= 6, JSON.stringify(segs));
    });

    it('a Berlin day from the per-user tier is a UTC day minus one hour plus one hour', () => {
      const a = T - H;
      const segs = planRange(a, a + 24 * H, user);
      check(segs, a, a + 24 * H, user);
      assert.deepEqual(
        segs.map((s) => [s.grain, s.sign, (s.hi - s.lo) / H]),
        [
          [1440, 1, 24],
          [60, 1, 1],
          [60, -1, 1],
        ],
      );
    });

    it('only what no block covers (mid-quarter-hour edges) comes from audit rows', () => {
      const a = T + 10 * H + 17 * 60_000 + 23_456;
      const b = T + 3 * 86_400_000 + 5 * H + 42 * 60_000 + 1;
      // The per-user tier's finest grain is the hour: its edges read up to an hour of audit rows each.
      for (const [costs, most] of [[small, 30 * 60_000], [user, 2 * H]] as const) {
        const segs = planRange(a, b, costs);
        check(segs, a, b, costs);
        const audit = segs.filter((s) => s.grain === 0).reduce((ms, s) => ms + s.hi - s.lo, 0);
        assert.ok(audit > 0 && audit < most, `audit rows over ${audit} ms`);
      }
    });

    it('random ranges are covered exactly once, for every tier', () => {
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      for (let i = 0; i < 200; i++) {
        const a = T + Math.floor(rnd() * 40 * 86_400_000);
        const b = a + 1 + Math.floor(rnd() * (rnd() < 0.5 ? 3 * H : 20 * 86_400_000));
        const costs = i % 2 ? small : user;
        check(planRange(a, b, costs), a, b, costs);
      }
    });

    it('bucket pieces start at from, end at to, and follow the bucket starts', () => {
      const starts = [{ label: 'd1', at: 0 }, { label: 'd2', at: 100 }, { label: 'd3', at: 200 }];
      assert.deepEqual(splitAtBuckets(50, 150, starts), [{ label: 'd1', a: 50, b: 100 }, { label: 'd2', a: 100, b: 150 }]);
      assert.deepEqual(splitAtBuckets(100, 250, starts), [{ label: 'd2', a: 100, b: 200 }, { label: 'd3', a: 200, b: 250 }]);
    });
  });
});

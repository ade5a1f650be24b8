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

  it("a batch's inference rows pre-aggregate per hour × user × groups × model × upstream", () => {
    const row = (at: string, sub: string, cost: string | null, outcome = 'ok', event = 'inference'): AuditContent => ({
      at: new Date(at), event, request_id: null, sub, email: null, groups: ['eng'], actor: null, surface: null, session_id: null, model: 'm', upstream: 'u',
      status: 200, outcome, reason: null, input_tokens: '10', output_tokens: null, cache_read_tokens: '5', cache_creation_tokens: '1', cost_micros: cost, latency_ms: 1, detail: null,
    });
    const rows = aggregate([
      row('2026-11-01T10:00:00.000Z', 'a', '100'),
      row('2026-11-01T10:59:59.999Z', 'a', null, 'upstream_error'),
      row('2026-11-01T11:00:00.000Z', 'a', '7'),
      row('2026-11-01T10:30:00.000Z', 'b', '1', 'blocked_spend'),
      row('2026-11-01T10:30:00.000Z', 'a', '1000', 'ok', 'session.mint'),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.hour, r.sub, r.requests, r.errors, String(r.input_tokens), String(r.cache_read_tokens), String(r.cost_micros)]),
      [
        ['2026-11-01T10:00:00.000Z', 'a', 2, 1, '20', '10', '100'],
        ['2026-11-01T11:00:00.000Z', 'a', 1, 0, '10', '5', '7'],
        ['2026-11-01T10:00:00.000Z', 'b', 1, 0, '10', '5', '1'],
      ],
    );
  });
});

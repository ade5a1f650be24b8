/** Status bar text and severity from the usage endpoint and the usage-limit headers. */
import assert from 'node:assert/strict';
import { usageResponseSchema } from '../../gateway-server/src/protocol/usage';
import { applySignal, capsFromUsage, signalFromHeaders, SIGNED_OUT, statusFromUsage, offline } from '../../extension/src/status/format';

const now = new Date('2026-11-27T12:00:00Z');
const capped = (usedDaily: number, pctDaily: number) =>
  usageResponseSchema.parse({
    extra_usage: {
      is_enabled: true, monthly_limit: 5000, used_credits: usedDaily, utilization: pctDaily, currency: 'USD',
      daily: { limit: 5000, used_credits: usedDaily, utilization: pctDaily },
      weekly: { limit: 20000, used_credits: 3000, utilization: 15 },
      monthly: { limit: null, used_credits: 9000, utilization: null },
    },
    limits: [
      { kind: 'spend', group: 'weekly', percent: 15, resets_at: '2026-11-30T00:00:00.000Z', severity: 'normal', is_active: false },
      { kind: 'spend', group: 'daily', percent: pctDaily, resets_at: '2026-11-28T00:00:00.000Z', severity: 'normal', is_active: true },
    ],
  });

describe('extension status formatting', () => {
  // Times show in the developer's local zone, named; pin the zone so the expected text is fixed.
  const tz = process.env.TZ;
  before(() => void (process.env.TZ = 'UTC'));
  after(() => void (tz === undefined ? delete process.env.TZ : (process.env.TZ = tz)));

  it('shows the tightest cap as "$12.40 / $50 · day" with every cap in the tooltip', () => {
    const v = statusFromUsage(capped(1240, 24), now);
    assert.equal(v.text, '$12.40 / $50 · day');
    assert.equal(v.severity, 'ok');
    assert.match(v.tooltip, /day: \$12\.40 of \$50 \(24%\), resets Nov 28 00:00 UTC/);
    assert.match(v.tooltip, /week: \$30 of \$200 \(15%\)/);
    assert.deepEqual(capsFromUsage(capped(1240, 24)).map((c) => c.period), ['daily', 'weekly']);
  });

  it('turns warning past 75%, error past 95% and when blocked, with the reset time', () => {
    assert.equal(statusFromUsage(capped(3750, 75), now).severity, 'ok', 'strictly above the threshold');
    assert.equal(statusFromUsage(capped(3800, 76), now).severity, 'warning');
    assert.equal(statusFromUsage(capped(4800, 96), now).severity, 'error');
    const blocked = statusFromUsage(capped(5100, 102), now);
    assert.equal(blocked.severity, 'error');
    assert.match(blocked.tooltip, /blocked until Nov 28 00:00 UTC/);
  });

  it('says "no cap" for an uncapped user, "Sign in" when signed out and "offline" when unreachable', () => {
    const uncapped = usageResponseSchema.parse({
      extra_usage: { is_enabled: true, monthly_limit: null, used_credits: 1240, utilization: null, currency: 'USD', daily: { limit: null, used_credits: 1240, utilization: null }, weekly: { limit: null, used_credits: 1240, utilization: null } },
      limits: [],
    });
    assert.equal(statusFromUsage(uncapped, now).text, 'no cap');
    assert.equal(SIGNED_OUT.text, 'Sign in');
    assert.equal(offline('https://gw.example', now).severity, 'offline');
  });

  it('reads the live usage-limit headers and overlays them', () => {
    const P = 'anthropic-ratelimit-unified-';
    assert.equal(signalFromHeaders({}), undefined, 'uncapped users get no headers');
    const warn = signalFromHeaders({ [`${P}status`]: 'allowed_warning', [`${P}overage-utilization`]: '0.82', [`${P}overage-reset`]: '1795824000' })!;
    assert.equal(warn.utilization, 0.82);
    const base = statusFromUsage(capped(1240, 24), now);
    assert.equal(applySignal(base, warn, now).severity, 'warning');
    const rejected = signalFromHeaders({ [`${P}status`]: 'rejected', [`${P}overage-reset`]: String(Date.parse('2026-11-28T00:00:00Z') / 1000), [`${P}overage-period`]: 'daily' })!;
    const v = applySignal(base, rejected, now);
    assert.equal(v.severity, 'error');
    assert.match(v.tooltip, /blocked until Nov 28 00:00 UTC/);
  });
});

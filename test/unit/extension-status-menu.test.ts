/** Issue 19: the status-bar menu's entries, the gateway-switch sentence and the sign-in code modal. */
import assert from 'node:assert/strict';
import { statusMenu } from '../../extension/src/status/menu';
import { switchSentence } from '../../extension/src/settings/gateway-url';
import { codePrompt, COPY_AND_OPEN } from '../../extension/src/auth/sign-in-text';
import { SIGNED_OUT } from '../../extension/src/status/format';

const NOW = new Date('2026-03-02T10:00:00Z');
const status = { text: '$12.40 / $50 · day', severity: 'ok' as const, tooltip: 't' };
const caps = [
  { period: 'daily' as const, limitCents: 5000, usedCents: 1240, percent: 25, resetsAt: '2026-03-03T00:00:00Z', active: true },
  { period: 'monthly' as const, limitCents: null, usedCents: 0, percent: null, resetsAt: null, active: false },
];

describe('extension status-bar menu', () => {
  it('signed in: usage with each cap and its reset, then sidebar, refresh, switch, sign out', () => {
    const m = statusMenu({ signedIn: true, gatewayUrl: 'https://gw.example.com', account: 'alice@example.com', status, caps, now: NOW });
    assert.deepEqual(m.map((e) => e.action ?? (e.separator ? `-- ${e.label}` : e.label)), [
      '-- Usage',
      '$(graph) Day: $12.40 of $50 (25 %)',
      '-- Signed in as alice@example.com',
      'openSidebar',
      'refreshPolicy',
      'switchGateway',
      'signOut',
    ]);
    assert.match(m[1]!.description!, /^resets /);
    assert.equal(m.find((e) => e.action === 'switchGateway')!.description, 'https://gw.example.com');
  });

  it('no cap: the status text stands for the usage', () => {
    const m = statusMenu({ signedIn: true, gatewayUrl: 'https://gw', status: { ...status, text: 'no cap' }, caps: [], now: NOW });
    assert.equal(m[1]!.label, '$(graph) no cap');
  });

  it('signed out: sign in, switch gateway, gateway status (only with a gateway set)', () => {
    assert.deepEqual(statusMenu({ signedIn: false, gatewayUrl: 'https://gw', status: SIGNED_OUT, caps: [] }).map((e) => e.action), ['signIn', 'switchGateway', 'openGatewayStatus']);
    assert.deepEqual(statusMenu({ signedIn: false, gatewayUrl: '', status: SIGNED_OUT, caps: [] }).map((e) => e.action), ['signIn', 'switchGateway']);
  });
});

describe('extension gateway switch sentence', () => {
  const from = 'https://a.example.com';
  const to = 'https://b.example.com';
  it('says what happened at both gateways', () => {
    assert.equal(switchSentence({ from, to, asked: true }), `Signed out of ${from}, signing in to ${to}. Your session at ${from} is kept for when you switch back.`);
    assert.equal(switchSentence({ from, to, restoredAs: 'alice', asked: true }), `Signed out of ${from}, signed in to ${to} as alice. Your session at ${from} is kept for when you switch back.`);
    assert.equal(switchSentence({ from, to, asked: false }), `Signed out of ${from}, Tollgate now uses ${to}. Your session at ${from} is kept for when you switch back. Sign in to continue.`);
    assert.equal(switchSentence({ from: undefined, to, asked: true }), `Signing in to ${to}.`);
    assert.equal(switchSentence({ from: undefined, to, restoredAs: 'alice', asked: true }), `Signed in to ${to} as alice.`);
    assert.equal(switchSentence({ from, to: '', asked: false }), `Signed out of ${from}: no Tollgate gateway is set. Your session at ${from} is kept for when you switch back.`);
  });
});

describe('extension sign-in code modal', () => {
  it('names the gateway and carries the code; one button copies it and opens the browser', () => {
    const p = codePrompt('https://gw.example.com:8443', 'ABCD-EFGH', 'Use your work account.');
    assert.equal(p.message, 'Sign in to Tollgate at gw.example.com:8443');
    assert.match(p.detail, /^Your one-time code is ABCD-EFGH\. It is copied when you continue/);
    assert.match(p.detail, /Use your work account\.$/);
    assert.equal(COPY_AND_OPEN, 'Copy Code and Open Browser');
  });
});

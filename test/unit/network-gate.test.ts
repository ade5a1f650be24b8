import assert from 'node:assert/strict';
import { DenialSampler, NetworkGate, parseCidr } from '../../gateway-server/src/access/network-gate';

describe('network gate (pure logic)', () => {
  it('parses IPv4 and IPv6 ranges and single addresses, rejects the rest', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('fc00::/7'), { address: 'fc00::', prefix: 7, family: 'ipv6' });
    assert.deepEqual(parseCidr('192.0.2.7'), { address: '192.0.2.7', prefix: 32, family: 'ipv4' });
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', 'example.com/8', '10.0.0.0/8/1', '10.0.0.0/-1', '10.0.0.0/ 8', '']) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it('denies before it allows, and matches IPv4 carried in IPv6', () => {
    const gate = new NetworkGate({ allow_cidrs: ['10.0.0.0/8', 'fd00::/8'], deny_cidrs: ['10.9.0.0/16'] });
    assert.deepEqual(gate.check('10.1.2.3'), { allowed: true });
    assert.deepEqual(gate.check('::ffff:10.1.2.3'), { allowed: true });
    assert.deepEqual(gate.check('fd12::1'), { allowed: true });
    assert.deepEqual(gate.check('10.9.255.1'), { allowed: false, reason: 'deny_list' });
    assert.deepEqual(gate.check('::ffff:10.9.0.1'), { allowed: false, reason: 'deny_list' });
    assert.deepEqual(gate.check('11.0.0.1'), { allowed: false, reason: 'not_in_allow_list' });
    assert.deepEqual(gate.check(undefined), { allowed: false, reason: 'not_in_allow_list' });
  });

  it('with only a deny list, admits everything else', () => {
    const gate = new NetworkGate({ allow_cidrs: [], deny_cidrs: ['192.0.2.0/24'] });
    assert.deepEqual(gate.check('198.51.100.1'), { allowed: true });
    assert.deepEqual(gate.check('192.0.2.200'), { allowed: false, reason: 'deny_list' });
    assert.equal(new NetworkGate({ allow_cidrs: [], deny_cidrs: [] }).active, false);
  });

  it('samples one denial per address and reason per minute', () => {
    let now = 120_000;
    const s = new DenialSampler(() => now);
    assert.equal(s.shouldRecord('a', 'deny_list'), true);
    assert.equal(s.shouldRecord('a', 'deny_list'), false);
    assert.equal(s.shouldRecord('a', 'not_in_allow_list'), true);
    assert.equal(s.shouldRecord('b', 'deny_list'), true);
    now += 60_000;
    assert.equal(s.shouldRecord('a', 'deny_list'), true);
  });
});

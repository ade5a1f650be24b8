import assert from 'node:assert/strict';
import { emailDomain, matches, orderingWarnings, selectPolicy, type PolicyMatch } from '../../gateway-server/src/policy/matching';

describe('policy matching', () => {
  const cases: [string, PolicyMatch, { email?: string; groups: string[] }, boolean][] = [
    ['catch-all matches anyone', {}, { groups: [] }, true],
    ['catch-all matches a caller without email', {}, { email: undefined, groups: ['x'] }, true],
    ['groups: any overlap', { groups: ['eng', 'ops'] }, { groups: ['sales', 'ops'] }, true],
    ['groups: no overlap', { groups: ['eng'] }, { groups: ['sales'] }, false],
    ['groups: case-sensitive', { groups: ['Eng'] }, { groups: ['eng'] }, false],
    ['groups: caller without groups', { groups: ['eng'] }, { groups: [] }, false],
    ['email_domain: case-insensitive', { email_domain: 'Example.COM' }, { email: 'Dev@EXAMPLE.com', groups: [] }, true],
    ['email_domain: text after the last @', { email_domain: 'corp.example' }, { email: '"a@b"@corp.example', groups: [] }, true],
    ['email_domain: a subdomain is another domain', { email_domain: 'example.com' }, { email: 'a@eu.example.com', groups: [] }, false],
    ['email_domain: caller without email', { email_domain: 'example.com' }, { groups: [] }, false],
    ['both keys: both hold', { groups: ['eng'], email_domain: 'example.com' }, { email: 'a@example.com', groups: ['eng'] }, true],
    ['both keys: only the group holds', { groups: ['eng'], email_domain: 'example.com' }, { email: 'a@other.com', groups: ['eng'] }, false],
    ['both keys: only the domain holds', { groups: ['eng'], email_domain: 'example.com' }, { email: 'a@example.com', groups: ['x'] }, false],
  ];
  for (const [name, match, caller, expected] of cases) {
    it(name, () => assert.equal(matches(match, caller), expected));
  }

  it('emailDomain takes the text after the last @, lower-cased', () => {
    assert.equal(emailDomain('A@B@Example.Com'), 'example.com');
    assert.equal(emailDomain('no-at-sign'), undefined);
    assert.equal(emailDomain('trailing@'), undefined);
    assert.equal(emailDomain(undefined), undefined);
  });

  const policies = [{ match: { groups: ['eng'] } }, { match: { email_domain: 'example.com' } }, { match: {} }];
  const selections: [string, { email?: string; groups: string[] }, ReturnType<typeof selectPolicy>][] = [
    ['first specific match wins, merged onto the catch-all', { email: 'a@example.com', groups: ['eng'] }, { winner: 0, base: 2 }],
    ['second policy when the first does not match', { email: 'a@example.com', groups: [] }, { winner: 1, base: 2 }],
    ['catch-all alone for everyone else', { email: 'a@other.com', groups: [] }, { winner: 2 }],
  ];
  for (const [name, caller, expected] of selections) {
    it(`selection: ${name}`, () => assert.deepEqual(selectPolicy(policies, caller), expected));
  }
  it('selection: nothing when no policy matches and there is no catch-all', () => {
    assert.equal(selectPolicy([{ match: { groups: ['eng'] } }], { groups: ['sales'] }), undefined);
  });
  it('selection: a specific winner without a catch-all stands alone', () => {
    assert.deepEqual(selectPolicy([{ match: { groups: ['eng'] } }], { groups: ['eng'] }), { winner: 0 });
  });
  it('selection: a catch-all placed first shadows later policies (first match wins)', () => {
    assert.deepEqual(selectPolicy([{ match: {} }, { match: { groups: ['eng'] } }], { groups: ['eng'] }), { winner: 0 });
  });
  it('warns when the catch-all is not last, naming the unreachable policies', () => {
    const label = (i: number) => `managed.policies[${i}]`;
    assert.deepEqual(orderingWarnings(policies, label), []);
    const w = orderingWarnings([{ match: {} }, { match: { groups: ['eng'] } }], label);
    assert.equal(w.length, 1);
    assert.match(w[0]!, /managed\.policies\[0\] \(match: \{\}\) is not the last policy.*managed\.policies\[1\] can never match/);
  });
});

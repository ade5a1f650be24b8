/**
 * The independent SigV4 verifier (test/support/sigv4.ts) against AWS's published test-suite
 * vectors, and against what it exists to catch.
 */
import assert from 'node:assert/strict';
import { authorization, verify } from '../support/sigv4';
import { parseReq, SUITE, SUITE_SCOPE } from '../support/sigv4-suite';

describe('SigV4 oracle: AWS test-suite vectors', () => {
  for (const v of SUITE) {
    it(v.name, () => {
      const req = parseReq(v.req);
      const got = authorization(req, SUITE_SCOPE);
      if (v.creq) assert.equal(got.canonicalRequest, v.creq);
      assert.equal(got.authorization, v.authz);
      assert.deepEqual(verify({ ...req, headers: [...req.headers, ['Authorization', v.authz]] }, SUITE_SCOPE).ok, true);
    });
  }
});

describe('SigV4 oracle: refusals', () => {
  const base = parseReq(SUITE.find((v) => v.name === 'post-x-www-form-urlencoded')!.req);
  const good = authorization(base, SUITE_SCOPE).authorization;
  const withAuth = (r: typeof base, auth = good) => ({ ...r, headers: [...r.headers, ['Authorization', auth]] as [string, string][] });

  it('a body changed after signing', () => {
    assert.equal(verify(withAuth({ ...base, body: 'Param1=value2' }), SUITE_SCOPE).reason, 'signature mismatch');
  });
  it('a path encoded once instead of twice (the mistake a shared library would hide)', () => {
    const wire = { ...base, path: '/model/anthropic.claude-v1%3A0/invoke' };
    const signedOnce = authorization({ ...wire, path: '/model/anthropic.claude-v1:0/invoke' }, SUITE_SCOPE).authorization;
    assert.equal(verify(withAuth(wire, signedOnce), SUITE_SCOPE).reason, 'signature mismatch');
    assert.equal(verify(withAuth(wire, authorization(wire, SUITE_SCOPE).authorization), SUITE_SCOPE).ok, true);
  });
  it('another key, region or service; an unsigned host; a date outside the scope', () => {
    assert.match(verify(withAuth(base), { ...SUITE_SCOPE, accessKeyId: 'AKIDOTHER' }).reason!, /unknown access key/);
    assert.match(verify(withAuth(base), { ...SUITE_SCOPE, region: 'eu-west-1' }).reason!, /credential scope/);
    assert.match(verify(withAuth(base), { ...SUITE_SCOPE, service: 'bedrock' }).reason!, /credential scope/);
    const noHost = authorization(base, SUITE_SCOPE, ['content-type', 'x-amz-date']).authorization;
    assert.equal(verify(withAuth(base, noHost), SUITE_SCOPE).reason, 'host is not signed');
    const later = { ...base, headers: base.headers.map(([n, v]) => [n, n === 'X-Amz-Date' ? '20150831T000000Z' : v] as [string, string]) };
    assert.equal(verify(withAuth(later), SUITE_SCOPE).reason, 'credential date differs from X-Amz-Date');
  });
});

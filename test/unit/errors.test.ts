import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, GatewayError, renderAnthropicError } from '../../gateway-server/src/errors';

describe('error catalogue', () => {
  it('is documented in docs/errors.md, code for code', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| `([a-z_]+)` \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    const actual = Object.entries(ERRORS).map(([code, e]) => `${code} ${e.status} ${e.type}`);
    assert.deepEqual(documented.sort(), actual.sort());
  });

  it('renders the Anthropic envelope with request_id and x-should-retry', () => {
    const r = renderAnthropicError(new GatewayError('AUTH_REVOKED'), 'req-1');
    assert.equal(r.status, 401);
    assert.equal(r.headers['x-should-retry'], 'false');
    assert.deepEqual(r.body, { type: 'error', error: { type: 'authentication_error', message: ERRORS.AUTH_REVOKED.message }, request_id: 'req-1' });
  });
});

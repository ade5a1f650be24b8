/** The route tells a silent upstream body from a broken one by undici's error code, never by text. */
import assert from 'node:assert/strict';
import { errors as undiciErrors } from 'undici';
import { isUpstreamIdleTimeout } from '../../gateway-server/src/routing/upstream';

describe('upstream idle timeout recognition', () => {
  it("recognises undici's body timeout by its code and class name", () => {
    assert.equal(isUpstreamIdleTimeout(new undiciErrors.BodyTimeoutError()), true);
    assert.equal(isUpstreamIdleTimeout(Object.assign(new Error('x'), { code: 'UND_ERR_BODY_TIMEOUT' })), true);
  });

  it('does not mistake other failures, or a message that merely says "timeout", for it', () => {
    assert.equal(isUpstreamIdleTimeout(new undiciErrors.HeadersTimeoutError()), false);
    assert.equal(isUpstreamIdleTimeout(new undiciErrors.SocketError('other side closed')), false);
    assert.equal(isUpstreamIdleTimeout(new Error('Body Timeout Error')), false);
    assert.equal(isUpstreamIdleTimeout(undefined), false);
    assert.equal(isUpstreamIdleTimeout(null), false);
  });
});

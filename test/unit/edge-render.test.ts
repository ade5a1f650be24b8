import assert from 'node:assert/strict';
import { GatewayError, OAuthError } from '../../gateway-server/src/errors';
import { fromFrameworkError } from '../../gateway-server/src/edge/error-handler';
import { renderError, routeFamily } from '../../gateway-server/src/edge/render';

describe('edge rendering', () => {
  it('picks the route family from the request target', () => {
    assert.equal(routeFamily('/v1/messages?beta=true'), 'anthropic');
    assert.equal(routeFamily('/api/oauth/usage'), 'anthropic');
    assert.equal(routeFamily('/oauth/token'), 'oauth');
    assert.equal(routeFamily('/device?user_code=X'), 'page');
    assert.equal(routeFamily('/device/deny'), 'page');
    assert.equal(routeFamily('/devices'), 'anthropic');
    assert.equal(routeFamily(undefined), 'anthropic');
  });

  it('renders one error in each shape', () => {
    const err = new GatewayError('URI_TOO_LONG');
    assert.deepEqual(JSON.parse(renderError(err, 'anthropic', 'r1').body), {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'request URL too long (limits.max_url_length)' },
      request_id: 'r1',
    });
    const o = renderError(err, 'oauth');
    assert.equal(o.status, 414);
    assert.equal(o.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(o.body), { error: 'invalid_request', error_description: 'request URL too long (limits.max_url_length)' });
    assert.equal(JSON.parse(renderError(new GatewayError('DRAINING'), 'oauth').body).error, 'temporarily_unavailable');
    const p = renderError(new OAuthError('access_denied', 403, 'a <b>'), 'page');
    assert.equal(p.status, 403);
    assert.match(p.body, /a &lt;b&gt;/, 'escaped');
  });

  it('maps Fastify and Node error codes to ours and never keeps a plugin\'s message', () => {
    assert.equal(fromFrameworkError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE' })?.code, 'BODY_TOO_LARGE');
    assert.equal(fromFrameworkError({ code: 'FST_ERR_BAD_URL' })?.code, 'INVALID_REQUEST');
    assert.equal(fromFrameworkError({ code: 'HPE_INVALID_METHOD' })?.code, 'MALFORMED_HTTP');
    assert.equal(fromFrameworkError({ code: 'ERR_HTTP_REQUEST_TIMEOUT' })?.status, 408);
    assert.equal(fromFrameworkError({ code: 'HPE_HEADER_OVERFLOW' })?.status, 431);
    const other = fromFrameworkError({ statusCode: 422, message: '/very/long/path/echoed' });
    assert.equal(other?.status, 422);
    assert.ok(!other?.message.includes('/very/long'));
    assert.equal(fromFrameworkError({ message: 'boom' }), undefined);
  });
});

/** Issue 19 item 2: a refused agent request becomes a block with the gateway's reason, said once. */
import assert from 'node:assert/strict';
import { applyBlock, blockFromReply, blockMessage, NoticeLimiter, parseErrorBody, sentence } from '../../extension/src/status/block';
import { statusFromUsage, applySignal } from '../../extension/src/status/format';
import { TollgateState } from '../../extension/src/platform/state';
import { sidebarStateSchema } from '../../gateway-server/src/protocol/webview';

const at = new Date('2026-11-27T10:00:00Z');
const capBody = JSON.stringify({ type: 'error', error: { type: 'billing_error', message: 'spend limit reached' }, request_id: 'req_1' });

describe('extension blocks (refused agent requests)', () => {
  it('reads the Anthropic error envelope, and nothing from a body that is not one', () => {
    assert.deepEqual(parseErrorBody(capBody), { type: 'billing_error', message: 'spend limit reached' });
    assert.equal(parseErrorBody('<html>bad gateway</html>'), undefined);
    assert.equal(parseErrorBody('{"type":"error","error":{"type":"x"'), undefined);
  });

  it('a cap-reached 429 is "over cap" with the gateway\'s sentence and the reset', () => {
    const reset = new Date('2026-11-28T00:00:00Z');
    const b = blockFromReply(429, parseErrorBody(capBody), at, reset)!;
    assert.deepEqual(b, { kind: 'overCap', status: 429, reason: 'Spend limit reached.', at: at.toISOString(), until: reset.toISOString() });
    assert.match(blockMessage(b, at), /^Tollgate blocked an agent request: you are over your spend cap\. Spend limit reached\. Requests work again after .+/);
  });

  it('Codex\'s refusals in OpenAI\'s envelope: a 429 insufficient_quota is "over cap", a plain 429 is "blocked"', () => {
    const quota = JSON.stringify({ error: { message: 'Spend cap reached: $5.00 of $5.00 used today', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
    assert.deepEqual(parseErrorBody(quota), { type: 'insufficient_quota', message: 'Spend cap reached: $5.00 of $5.00 used today', code: 'insufficient_quota' });
    assert.equal(blockFromReply(429, parseErrorBody(quota), at)!.kind, 'overCap');
    assert.equal(blockFromReply(429, { type: 'invalid_request_error', message: 'over cap', code: 'insufficient_quota' }, at)!.kind, 'overCap');
    assert.equal(blockFromReply(429, { type: 'rate_limit_error', message: 'slow down', code: 'rate_limit_exceeded' }, at)!.kind, 'blocked');
    assert.equal(blockFromReply(401, { type: 'invalid_request_error', message: 'x', code: 'invalid_api_key' }, at), undefined);
  });

  it('a disallowed-model 400 is "blocked" with the gateway\'s reason; a 401 and a success are not blocks', () => {
    const b = blockFromReply(400, { type: 'invalid_request_error', message: 'model is not allowed' }, at)!;
    assert.equal(b.kind, 'blocked');
    assert.equal(b.reason, 'Model is not allowed.');
    assert.equal(blockMessage(b, at), 'Tollgate blocked an agent request. Model is not allowed.');
    assert.equal(blockFromReply(401, { type: 'authentication_error', message: 'x' }, at), undefined);
    assert.equal(blockFromReply(200, undefined, at), undefined);
    assert.equal(blockFromReply(503, undefined, at)!.reason, 'The gateway is unavailable.');
    assert.equal(sentence('already a sentence!'), 'Already a sentence!');
  });

  it('a retry storm is one notification; a different reason is another', () => {
    const limiter = new NoticeLimiter(60_000);
    const b = blockFromReply(429, parseErrorBody(capBody), at)!;
    const t = at.getTime();
    assert.equal(limiter.shouldNotify(b, t), true);
    for (let i = 1; i <= 50; i++) assert.equal(limiter.shouldNotify({ ...b, at: new Date(t + i * 100).toISOString() }, t + i * 100), false);
    assert.equal(limiter.shouldNotify(blockFromReply(400, { type: 'invalid_request_error', message: 'model is not allowed' }, at)!, t + 5000), true);
    assert.equal(limiter.shouldNotify(b, t + 60_000), true, 'said again once the window has passed');
  });

  it('the status label says "over cap" / "blocked" and the sidebar carries the block', () => {
    const base = { text: '$12.40 / $50 · day', severity: 'ok', tooltip: '' };
    assert.equal(applyBlock(base, blockFromReply(429, parseErrorBody(capBody), at)!, at).text, '$12.40 / $50 · day · over cap');
    assert.equal(applyBlock(base, blockFromReply(400, { type: 'invalid_request_error', message: 'model is not allowed' }, at)!, at).text, '$12.40 / $50 · day · blocked');
    assert.equal(applyBlock({ ...base, text: 'no cap' }, blockFromReply(403, undefined, at)!, at).text, 'blocked');
    const lifted = blockFromReply(429, parseErrorBody(capBody), at, new Date(at.getTime() - 1))!;
    assert.equal(applyBlock(base, lifted, at).text, base.text, 'a block past its reset no longer shows');

    const state = new TollgateState('http://gw');
    state.session = { gatewayUrl: 'http://gw', account: { id: 'u', label: 'u', email: null, name: null, groups: [] } } as never;
    state.usage = null;
    state.block = blockFromReply(400, { type: 'invalid_request_error', message: 'model is not allowed' }, new Date())!;
    assert.equal(state.status().text, 'blocked');
    const s = sidebarStateSchema.parse(state.sidebar());
    assert.equal(s.block?.reason, 'Model is not allowed.');
  });

  it('a cap at 100% in /api/oauth/usage or a rejected header says "over cap"', () => {
    const usage = {
      five_hour: null, seven_day: null, seven_day_opus: null, seven_day_sonnet: null,
      extra_usage: { is_enabled: true, monthly_limit: 5000, used_credits: 5000, utilization: 100, currency: 'USD', daily: { limit: 5000, used_credits: 5000 } },
      limits: [{ group: 'daily', percent: 100, resets_at: '2026-11-28T00:00:00Z', is_active: true }],
    };
    assert.match(statusFromUsage(usage as never, at).text, / · over cap$/);
    const v = applySignal({ text: '$49 / $50 · day', severity: 'ok', tooltip: '' }, { status: 'rejected', utilization: 1, resetAt: null, period: 'day' }, at);
    assert.equal(v.text, '$49 / $50 · day · over cap');
  });
});

import assert from 'node:assert/strict';
import { CircuitBreakers, tripsBreaker, type BreakerChange } from '../../gateway-server/src/routing/breaker';
import { bedrockToSse, eventStreamCodec } from '../../gateway-server/src/routing/bedrock-stream';
import { bedrockBody } from '../../gateway-server/src/routing/bedrock';
import { vertexBaseUrl, vertexBody } from '../../gateway-server/src/routing/vertex';
import { bedrockFoundationId, bedrockPathSegment, cloudModelId } from '../../gateway-server/src/routing/model-ids';
import { sanitizeCloudError } from '../../gateway-server/src/routing/sanitize';
import { sseEvent } from '../../gateway-server/src/routing/sse';
import { roleSessionName } from '../../gateway-server/src/routing/bedrock-credentials';
import { routeWithFailover } from '../../gateway-server/src/routing/failover';
import type { Upstream } from '../../gateway-server/src/routing/upstream';
import { chunkFrame } from '../support/mock-bedrock';
import { fromUtf8 } from '@smithy/util-utf8';

const up = (name: string) => ({ name }) as Upstream;

describe('circuit breaker', () => {
  const make = (threshold = 2) => {
    let now = 1_000;
    const changes: BreakerChange[] = [];
    const b = new CircuitBreakers({ failureThreshold: threshold, cooldownMs: 10_000, now: () => now });
    b.onChange((c) => changes.push(c));
    return { b, changes, advance: (ms: number) => (now += ms) };
  };

  it('opens after N consecutive failures and reports the change', () => {
    const { b, changes } = make();
    b.onAttemptFailed(up('a'), 'status 500', 500);
    assert.equal(b.allow(up('a')), true);
    b.onAttemptFailed(up('a'), 'connect refused');
    assert.equal(b.allow(up('a')), false);
    assert.deepEqual(changes.map((c) => [c.from, c.to]), [['closed', 'open']]);
    assert.deepEqual(b.snapshot(), [{ upstream: 'a', state: 'open', consecutiveFailures: 2, openedAt: 1_000 }]);
  });

  it('a success resets the count', () => {
    const { b } = make();
    b.onAttemptFailed(up('a'), 'x', 503);
    b.onAttemptSucceeded(up('a'));
    b.onAttemptFailed(up('a'), 'x', 503);
    assert.equal(b.state('a'), 'closed');
  });

  it('lets exactly one probe through after the cool-down, and closes or reopens on its result', () => {
    const { b, changes, advance } = make(1);
    b.onAttemptFailed(up('a'), 'x', 500);
    advance(10_000);
    assert.equal(b.allow(up('a')), true, 'probe');
    assert.equal(b.allow(up('a')), false, 'only one probe in flight');
    b.onAttemptFailed(up('a'), 'x', 500);
    assert.equal(b.state('a'), 'open');
    assert.equal(b.allow(up('a')), false);
    advance(10_000);
    assert.equal(b.allow(up('a')), true);
    b.onAttemptSucceeded(up('a'));
    assert.equal(b.state('a'), 'closed');
    assert.deepEqual(changes.map((c) => c.to), ['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('replaces a probe that never reported after another cool-down', () => {
    const { b, advance } = make(1);
    b.onAttemptFailed(up('a'), 'x', 500);
    advance(10_000);
    assert.equal(b.allow(up('a')), true);
    advance(10_000);
    assert.equal(b.allow(up('a')), true);
  });

  it('counts transport errors, 5xx and 429 only', () => {
    assert.deepEqual([undefined, 500, 503, 529, 429, 400, 401, 403, 404].map(tripsBreaker), [true, true, true, true, true, false, false, false, false]);
  });

  it('failover moves open upstreams to the end of the order instead of dropping them', async () => {
    const { b } = make(1);
    const calls: string[] = [];
    const fake = (name: string, status: number) =>
      ({
        name,
        provider: 'x',
        send: async () => {
          calls.push(name);
          return { status, headers: {}, body: (async function* () {})(), discard: () => {} };
        },
        close: async () => {},
      }) as Upstream;
    const a = fake('a', 200);
    const c = fake('c', 200);
    b.onAttemptFailed(a, 'x', 500);
    const base = { signal: new AbortController().signal } as never;
    const served = await routeWithFailover([{ upstream: a, upstreamModel: 'm' }, { upstream: c, upstreamModel: 'm' }], base, b);
    assert.equal(served.upstream.name, 'c');
    assert.deepEqual(calls, ['c'], 'the open upstream was skipped while another answered');
    const only = await routeWithFailover([{ upstream: a, upstreamModel: 'm' }], base, b);
    assert.equal(only.upstream.name, 'a', 'a lone open upstream is still tried');
    assert.equal(b.state('a'), 'closed', 'and its success closes the breaker');
  });
});

describe('Bedrock event stream to SSE', () => {
  async function collect(gen: AsyncIterable<Buffer>) {
    let out = '';
    for await (const c of gen) out += c.toString('utf8');
    return out;
  }
  async function* bytes(parts: Uint8Array[], pauseBefore?: number, pauseMs = 0) {
    for (let i = 0; i < parts.length; i++) {
      if (i === pauseBefore) await new Promise((r) => setTimeout(r, pauseMs));
      yield parts[i]!;
    }
  }

  it('re-emits chunk events with their JSON text unchanged, across arbitrary chunk boundaries', async () => {
    const events = [
      { type: 'message_start', message: { id: 'm', usage: { input_tokens: 3 } } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo "x"' } },
      { type: 'message_stop' },
    ];
    const all = Buffer.concat(events.map((e) => chunkFrame(JSON.stringify(e))));
    // Split into 7-byte pieces so frames straddle reads.
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += 7) pieces.push(all.subarray(i, i + 7));
    const out = await collect(bedrockToSse(bytes(pieces)));
    assert.equal(out, events.map((e) => sseEvent(e.type, e)).join(''));
  });

  it('synthesises ping events during a silence', async () => {
    const frames = [chunkFrame('{"type":"message_start"}'), chunkFrame('{"type":"message_stop"}')];
    const out = await collect(bedrockToSse(bytes(frames, 1, 200), { pingIntervalMs: 20 }));
    assert.match(out, /^event: message_start\n.*\n\n(event: ping\ndata: \{"type":"ping"\}\n\n)+event: message_stop\n/);
  });

  it('turns an exception frame into an SSE error event and logs the provider text', async () => {
    const exception = eventStreamCodec.encode({
      headers: {
        ':message-type': { type: 'string', value: 'exception' },
        ':exception-type': { type: 'string', value: 'modelStreamErrorException' },
      },
      body: fromUtf8('{"message":"boom in account 123456789012"}'),
    });
    const logged: string[] = [];
    const out = await collect(bedrockToSse(bytes([chunkFrame('{"type":"message_start"}'), exception]), { onException: (t, m) => logged.push(`${t}: ${m}`) }));
    assert.ok(out.endsWith(sseEvent('error', { type: 'error', error: { type: 'api_error', message: 'upstream error mid-stream' } })));
    assert.deepEqual(logged, ['modelStreamErrorException: boom in account 123456789012']);
  });

  it('fails the stream when it ends inside a frame', async () => {
    const f = chunkFrame('{"type":"message_start"}');
    await assert.rejects(collect(bedrockToSse(bytes([f.subarray(0, 10)]))), /inside a frame/);
  });
});

describe('cloud request translation', () => {
  it('Bedrock body: version added, model/stream/tags removed, betas moved into the body minus request-tags', () => {
    const body = { model: 'm', stream: true, tags: { a: 1 }, max_tokens: 5, messages: [], metadata: { user_id: 'u' }, thinking: { type: 'adaptive' } };
    assert.deepEqual(bedrockBody(body, { 'anthropic-beta': 'a-1, request-tags-2026-08-21,b-2' }), {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 5,
      messages: [],
      metadata: { user_id: 'u' },
      thinking: { type: 'adaptive' },
      anthropic_beta: ['a-1', 'b-2'],
    });
    assert.equal('anthropic_beta' in bedrockBody({ model: 'm' }, {}), false);
  });

  it('Vertex body: version added, model removed (kept for count-tokens), stream kept', () => {
    assert.deepEqual(vertexBody({ model: 'm', stream: true, tags: {}, messages: [] }, 'messages', 'claude-x@1'), {
      anthropic_version: 'vertex-2023-10-16',
      stream: true,
      messages: [],
    });
    assert.deepEqual(vertexBody({ model: 'm', messages: [] }, 'count_tokens', 'claude-x@1'), {
      anthropic_version: 'vertex-2023-10-16',
      messages: [],
      model: 'claude-x@1',
    });
    assert.equal(vertexBaseUrl({ region: 'global' }), 'https://aiplatform.googleapis.com/v1');
    assert.equal(vertexBaseUrl({ region: 'europe-west1' }), 'https://europe-west1-aiplatform.googleapis.com/v1');
  });

  it('maps built-in IDs per cloud and passes others through', () => {
    assert.equal(cloudModelId('bedrock', 'claude-haiku-4-5'), 'us.anthropic.claude-haiku-4-5-20251001-v1:0');
    assert.equal(cloudModelId('bedrock', 'claude-haiku-4-5-20251001'), 'us.anthropic.claude-haiku-4-5-20251001-v1:0');
    assert.equal(cloudModelId('vertex', 'claude-haiku-4-5'), 'claude-haiku-4-5@20251001');
    assert.equal(cloudModelId('bedrock', 'eu.anthropic.claude-sonnet-4-6'), 'eu.anthropic.claude-sonnet-4-6');
    assert.equal(bedrockPathSegment('us.anthropic.claude-haiku-4-5-20251001-v1:0'), 'us.anthropic.claude-haiku-4-5-20251001-v1:0');
    assert.equal(bedrockPathSegment('arn:aws:bedrock:us-east-1:1:provisioned-model/x'), 'arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aprovisioned-model%2Fx');
    assert.equal(bedrockFoundationId('us.anthropic.claude-sonnet-4-6'), 'anthropic.claude-sonnet-4-6');
    assert.equal(bedrockFoundationId('arn:aws:bedrock:us-east-1:1:provisioned-model/x'), undefined);
  });
});

describe('assume_role session names', () => {
  it('keeps what STS allows and bounds the length', () => {
    assert.equal(roleSessionName('alice@example.com'), 'alice@example.com');
    assert.equal(roleSessionName('a b/c'), 'a-b-c');
    assert.equal(roleSessionName('x'.repeat(80)).length, 64);
    assert.equal(roleSessionName('x'), 'tollgate-x');
  });
});

describe('cloud error sanitisation', () => {
  const anthropicEnvelope = (type: string, message: string) => JSON.stringify({ type: 'error', error: { type, message } });
  it('relays what clients act on and hides the rest', () => {
    const cases: [Parameters<typeof sanitizeCloudError>, string, string][] = [
      [['bedrock', 400, anthropicEnvelope('invalid_request_error', 'prompt is too long: 1 > 0')], 'invalid_request_error', 'prompt is too long: 1 > 0'],
      [['vertex', 413, anthropicEnvelope('request_too_large', 'Request exceeds the maximum size')], 'request_too_large', 'Request exceeds the maximum size'],
      [['bedrock', 400, '{"message":"Input is too long."}'], 'invalid_request_error', 'Input is too long.'],
      [['bedrock', 400, '{"message":"Input is too long for account 123."}'], 'invalid_request_error', 'upstream rejected the request'],
      [['vertex', 400, '{"error":{"code":400,"message":"Request payload size exceeds the limit: 31457280 bytes.","status":"INVALID_ARGUMENT"}}'], 'invalid_request_error', 'Input is too long.'],
      [['vertex', 403, '{"error":{"code":403,"message":"denied on project 9","status":"PERMISSION_DENIED"}}'], 'permission_error', 'upstream denied the request'],
      [['bedrock', 429, '{"message":"Too many tokens"}'], 'rate_limit_error', 'upstream rate limit exceeded'],
      [['vertex', 529, anthropicEnvelope('overloaded_error', 'Overloaded in us-east5 for project 9')], 'overloaded_error', 'upstream overloaded'],
      [['bedrock', 500, 'not json'], 'api_error', 'upstream error'],
    ];
    for (const [args, type, message] of cases) {
      const s = sanitizeCloudError(...args);
      assert.deepEqual([s.status, s.type, s.message], [args[1], type, message], args[2]);
    }
  });
});

/** Issue 19 item 7: real network failures reach the developer as sentences, never the runtime's text. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { GatewayClient } from '../../extension/src/platform/gateway-client';
import { signInErrorMessage } from '../../extension/src/platform/messages';

const RAW = /fetch failed|Failed to parse URL|TypeError|ECONNREFUSED|undefined/;

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const client = (baseUrl: string) => new GatewayClient({ fetch: (...a) => fetch(...a), baseUrl: () => baseUrl, token: async () => 'tok' });

describe('extension error wording', () => {
  it('no gateway set: health says what to do, not "Failed to parse URL from /healthz"', async () => {
    const h = await client('').health();
    assert.equal(h.reachable, false);
    assert.equal(h.detail, 'No gateway is set. Run "Tollgate: Sign In" or set "tollgate.gatewayUrl" to your gateway\'s address.');
  });

  it('a gateway that is down: "Nothing answers at …", not "fetch failed"', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const h = await client(url).health();
    assert.equal(h.detail, `Nothing answers at ${url}. Check that the gateway is running and the address is right.`);
    await assert.rejects(client(url).usage(), (err: Error) => {
      assert.doesNotMatch(err.message, RAW);
      assert.match(err.message, /^Nothing answers at /);
      return true;
    });
  });

  it('a non-URL setting and an HTTP failure are sentences too', async () => {
    assert.match((await client('gateway.example').health()).detail, /^"gateway\.example" is not a gateway address\. Set "tollgate\.gatewayUrl" to an http:\/\/ or https:\/\/ URL\.$/);
    const fakeFetch = (async () => new Response('oops', { status: 500 })) as typeof fetch;
    const c = new GatewayClient({ fetch: fakeFetch, baseUrl: () => 'http://gw.test', token: async () => 'tok' });
    await assert.rejects(c.usage(), /^GatewayError: The gateway could not answer your usage \(HTTP 500\)\./);
  });

  it('a sign-in that cannot reach the gateway says so in a sentence', async () => {
    const err = await fetch(`http://127.0.0.1:${await closedPort()}/`).catch((e: unknown) => e);
    const text = signInErrorMessage(err, 'http://127.0.0.1:1');
    assert.doesNotMatch(text, RAW);
    assert.match(text, /^Tollgate sign-in failed\. Nothing answers at http:\/\/127\.0\.0\.1:1\./);
  });
});

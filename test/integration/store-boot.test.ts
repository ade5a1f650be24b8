/**
 * Boot without the database (issue 15): the gateway listens at once, /healthz is 200, /readyz
 * 503 and every other route a 503 in its protocol's shape until PostgreSQL answers; then it is
 * ready without a restart. And once running, sign-in during an outage is a 503 with a sentence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../../gateway-server/src/server';
import { testConfig } from '../support/gateway';
import { freePort } from '../support/process';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-pg';

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; ; i++) {
    if (await fn()) return;
    if (i > 3000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('boot without the database (private PostgreSQL)', function () {
  this.timeout(300_000);
  let pgc: PrivatePostgres;
  let gw: RunningGateway | undefined;
  let spoolDir: string;
  const logs: string[] = [];

  before(async () => {
    pgc = await startPrivatePostgres();
    spoolDir = mkdtempSync(join(tmpdir(), 'tollgate-spool-'));
  });
  after(async () => {
    await gw?.close();
    await pgc?.close();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('serves /healthz and 503s while PostgreSQL is down, then becomes ready once it is up, without a restart', async () => {
    await pgc.stop();
    const port = await freePort();
    const config = testConfig({
      listen: { host: '127.0.0.1', port },
      store: { postgres_url: pgc.url, spool_dir: spoolDir, connect_timeout_seconds: 1 },
      admin: { write_keys: [{ id: 'ops', key: 'wk-0123456789abcdef0123456789abcdef' }] },
    });
    const started = startGateway(config, { log: (m) => logs.push(m), drainTimeoutMs: 1000 });
    let startError: unknown;
    started.catch((err) => (startError = err));
    const url = `http://127.0.0.1:${port}`;
    await until('the front door to listen', async () => (await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) === 200);

    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /not ready: waiting for the store/);

    const msg = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(msg.status, 503);
    assert.equal(msg.headers.get('retry-after'), '5');
    const body = (await msg.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /cannot reach its database/);

    const tok = await fetch(`${url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x' });
    assert.equal(tok.status, 503);
    const oauth = (await tok.json()) as { error: string; error_description: string };
    assert.equal(oauth.error, 'temporarily_unavailable');
    assert.match(oauth.error_description, /sign-in and refresh are paused/);

    // Every route family gets its own shape from the one classifier (edge/render.ts).
    const codex = await fetch(`${url}/v1/responses`, { method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(codex.status, 503);
    assert.equal(codex.headers.get('retry-after'), '5');
    const oai = (await codex.json()) as { error: { type: string; code: string; message: string } };
    assert.deepEqual([oai.error.type, oai.error.code], ['server_error', 'store_unreachable']);
    assert.match(oai.error.message, /cannot reach its database/);
    const page = await fetch(`${url}/device?user_code=ABCD-EFGH`);
    assert.equal(page.status, 503);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /sign-in and refresh are paused/);
    const disco = await fetch(`${url}/.well-known/oauth-authorization-server`);
    assert.equal(disco.status, 503);
    assert.equal(((await disco.json()) as { error: string }).error, 'temporarily_unavailable');
    assert.ok(logs.some((l) => /could not reach or migrate PostgreSQL at boot \(attempt 1/.test(l)), logs.join('\n'));
    assert.equal(startError, undefined);

    await pgc.start();
    gw = await started;
    await until('/readyz 200', async () => (await fetch(`${url}/readyz`)).status === 200);
    const models = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(models.status, 401, 'the app answers now (no bearer: 401, not 503)');
  });

  it('sign-in during an outage of a running gateway: 503 temporarily_unavailable with a sentence, not a 500', async () => {
    assert.ok(gw, 'the previous test started the gateway');
    const url = gw.url;
    const dev = await fetch(`${url}/oauth/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=claude-code' });
    await dev.text();
    await pgc.stop();
    try {
      const r = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=abc',
      });
      assert.equal(r.status, 503, await r.clone().text());
      const b = (await r.json()) as { error: string; error_description: string };
      assert.equal(b.error, 'temporarily_unavailable');
      assert.match(b.error_description, /retry in a few seconds/);
      const h = await fetch(`${url}/healthz`);
      assert.equal(h.status, 200, 'live through the outage');
      const d = (await (await fetch(`${url}/healthz?detail`)).json()) as { store: { reachable: boolean } };
      assert.equal(d.store.reachable, false);
      await until('/readyz 503 (no grace configured)', async () => (await fetch(`${url}/readyz`)).status === 503);
    } finally {
      await pgc.start();
    }
    await until('/readyz 200 again', async () => (await fetch(`${url}/readyz`)).status === 200);
  });
});

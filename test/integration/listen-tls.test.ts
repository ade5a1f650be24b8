/**
 * listen.tls: the gateway serves HTTPS with the configured pair (and HSTS), serves no plain
 * HTTP on that port, picks up rotated files without a restart, keeps the old pair while the
 * files do not load, and refuses to boot on files it cannot load.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../../gateway-server/src/server';
import { ConfigError } from '../../gateway-server/src/config/load';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { testConfig } from '../support/gateway';
import { makeTestCertificates, type TestCertificates } from '../support/test-ca';

interface Answer {
  status: number;
  hsts: string | undefined;
  fingerprint: string;
}

/** One request on a fresh connection (no agent), trusting both test CAs. */
function get(url: string, cas: string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { ca: cas, agent: false }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, hsts: res.headers['strict-transport-security'] as string | undefined, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Poll observable state; mocha's timeout bounds the wait. */
async function pollUntil<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('listen.tls', function () {
  this.timeout(60_000);
  let tdb: TestDatabase;
  let gw: RunningGateway;
  let first: TestCertificates;
  let second: TestCertificates;
  let dir: string;
  const logLines: string[] = [];
  const logger = { level: 'info', stream: { write: (line: string) => void logLines.push(line) } };
  const fp = (c: TestCertificates) => new X509Certificate(c.cert).fingerprint256;
  const cas = () => [first.caPem, second.caPem];

  before(async () => {
    process.env.TOLLGATE_TLS_RELOAD_MS = '50';
    first = makeTestCertificates({ dns: ['localhost'], ip: ['127.0.0.1'] });
    second = makeTestCertificates({ dns: ['localhost'], ip: ['127.0.0.1'] });
    dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-'));
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), first.key);
    tdb = await createTestDatabase('pglite');
    const config = testConfig({ listen: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') } } });
    gw = await startGateway(config, { deps: { db: tdb.db, logger }, log: () => {} });
  });
  after(async () => {
    delete process.env.TOLLGATE_TLS_RELOAD_MS;
    await gw?.close();
    await tdb?.drop();
  });

  it('serves HTTPS with the configured certificate and an HSTS header', async () => {
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const a = await get(gw.url, cas());
    assert.equal(a.status, 200);
    assert.equal(a.hsts, 'max-age=31536000');
    assert.equal(a.fingerprint, fp(first));
  });

  it('serves no plain HTTP on the TLS port', async () => {
    await assert.rejects(fetch(gw.url.replace('https:', 'http:') + '/healthz'));
  });

  it('keeps the current pair while the files do not match, then picks up the rotated pair', async () => {
    // A rotation caught half-way: the new key beside the old certificate does not load.
    writeFileSync(join(dir, 'tls.key'), second.key);
    await pollUntil(() => logLines.some((l) => l.includes('"evt":"tls.reload_failed"')), Boolean);
    assert.equal((await get(gw.url, cas())).fingerprint, fp(first));
    writeFileSync(join(dir, 'tls.crt'), second.cert);
    const a = await pollUntil(() => get(gw.url, cas()), (x) => x.fingerprint === fp(second));
    assert.ok(logLines.some((l) => l.includes('"evt":"tls.reloaded"')));
    assert.equal(a.status, 200);
  });

  it('refuses to boot on files it cannot load, saying which', async () => {
    writeFileSync(join(dir, 'other.key'), first.key);
    const config = testConfig({ listen: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'other.key') } } });
    await assert.rejects(startGateway(config, { deps: { db: tdb.db, logger: false }, log: () => {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems[0]!, /^listen\.tls: cannot load the certificate .*tls\.crt and key .*other\.key .*point cert and key at readable PEM files of one key pair\.$/);
      return true;
    });
    const missing = testConfig({ listen: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'nope.crt'), key: join(dir, 'tls.key') } } });
    await assert.rejects(startGateway(missing, { deps: { db: tdb.db, logger: false }, log: () => {} }), /ENOENT/);
  });
});

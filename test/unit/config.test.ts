import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, resolveConfig } from '../../gateway-server/src/config/load';

const base = {
  listen: { host: '127.0.0.1', port: 8080 },
  session: { jwt_secret: 'x'.repeat(32) },
  upstreams: [{ provider: 'anthropic', auth: { api_key: 'k' } }],
};

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolveConfig(raw, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('accepts a minimal file, fills defaults and freezes the result', () => {
    const cfg = resolveConfig(base, {});
    assert.equal(cfg.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(cfg.upstreams[0]!.name, 'anthropic');
    assert.equal(cfg.limits.max_request_bytes, 32 * 1024 * 1024);
    assert.deepEqual(cfg.session.jwt_secret, ['x'.repeat(32)]);
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.upstreams[0]));
  });

  it('rejects unknown keys naming the field path', () => {
    const p = problems({ ...base, listen: { ...base.listen, hots: 'x' } });
    assert.deepEqual(p, ['listen: unknown key "hots"; remove or fix the spelling.']);
  });

  it('takes store.listen_url only beside store.postgres_url', () => {
    assert.deepEqual(problems({ ...base, store: { listen_url: 'postgres://db:5432/gw' } }), [
      'store.listen_url: needs store.postgres_url: it is a second connection to the same PostgreSQL.',
    ]);
    const cfg = resolveConfig({ ...base, store: { postgres_url: 'postgres://pgbouncer:6432/gw', listen_url: 'postgres://db:5432/gw' } }, {});
    assert.equal(cfg.store.listen_url, 'postgres://db:5432/gw');
  });

  it('takes store.read_url only beside store.postgres_url', () => {
    assert.deepEqual(problems({ ...base, store: { read_url: 'postgres://replica:5432/gw' } }), [
      'store.read_url: needs store.postgres_url: it is a replica of that PostgreSQL.',
    ]);
    assert.equal(resolveConfig({ ...base, store: { postgres_url: 'postgres://db/gw', read_url: 'postgres://replica/gw' } }, {}).store.read_url, 'postgres://replica/gw');
  });

  it('expands ${VAR} and fails boot on an undefined variable', () => {
    const cfg = resolveConfig({ ...base, upstreams: [{ provider: 'anthropic', auth: { api_key: 'pre-${KEY}' } }] }, { KEY: 'abc' });
    assert.equal((cfg.upstreams[0] as { auth: { api_key: string } }).auth.api_key, 'pre-abc');
    const p = problems({ ...base, upstreams: [{ provider: 'anthropic', auth: { api_key: '${MISSING}' } }] });
    assert.deepEqual(p, ['upstreams.0.auth.api_key: environment variable MISSING is not set.']);
  });

  it('reads ${file:/path} as the whole value, trimmed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-'));
    writeFileSync(join(dir, 's'), 'y'.repeat(40) + '\n');
    const cfg = resolveConfig({ ...base, session: { jwt_secret: `\${file:${join(dir, 's')}}` } }, {});
    assert.equal(cfg.session.jwt_secret[0], 'y'.repeat(40));
    assert.match(problems({ ...base, session: { jwt_secret: `a\${file:${join(dir, 's')}}` } })[0]!, /whole value/);
  });

  it('requires public_url off loopback, distinct upstream names and strong secrets', () => {
    assert.match(problems({ ...base, listen: { host: '0.0.0.0' } })[0]!, /^listen.public_url/);
    assert.match(problems({ ...base, upstreams: [base.upstreams[0], base.upstreams[0]] })[0]!, /two upstreams are named "anthropic"/);
    assert.match(problems({ ...base, session: { jwt_secret: 'short' } })[0]!, /at least 32 bytes/);
    assert.match(
      problems({ ...base, upstreams: [{ provider: 'bedrock', region: 'us-east-1', auth: { aws_access_key_id: 'AKIA' } }] })[0]!,
      /must be set together/,
    );
  });

  it('reports YAML syntax errors and unreadable files as one line each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-'));
    writeFileSync(join(dir, 'bad.yaml'), 'listen: [\n');
    assert.throws(() => loadConfigFile(join(dir, 'bad.yaml'), {}), (e: ConfigError) => /YAML syntax error/.test(e.problems[0]!));
    assert.throws(() => loadConfigFile(join(dir, 'none.yaml'), {}), (e: ConfigError) => /cannot read config file/.test(e.problems[0]!));
  });
});

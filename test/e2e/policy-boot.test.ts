/**
 * Policy mistakes stop boot the way every config mistake does: one line per problem naming the
 * policy and key, exit 2, no stack trace (the bundled server, as an operator runs it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPostgresDatabase } from '../support/db';
import { SERVER_BUNDLE, writeConfig } from '../support/process';
import { TEST_JWT_SECRET } from '../support/gateway';

describe('policy boot validation (gateway process)', function () {
  let pgdb: { url: string; drop(): Promise<void> };
  before(async () => {
    pgdb = await createPostgresDatabase();
  });
  after(async () => {
    await pgdb?.drop();
  });

  it('prints one line per bad policy key and exits 2', () => {
    const path = writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      session: { jwt_secret: TEST_JWT_SECRET },
      store: { postgres_url: pgdb.url },
      upstreams: [{ provider: 'anthropic', base_url: 'http://127.0.0.1:9', auth: { api_key: 'sk-test' } }],
      managed: {
        policies: [
          { name: 'eng', match: { groups: ['eng'] }, cli: { forceLoginMethod: 'gateway', availableModels: 'opus' } },
          { match: {}, cli: { mcpServers: { x: { command: 'y' } } } },
        ],
      },
    });
    const r = spawnSync(process.execPath, [SERVER_BUNDLE, '--config', path], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('  - '));
    assert.match(r.stderr, /configuration is not valid/);
    assert.deepEqual(
      lines.map((l) => l.replace(/:.*/, '')),
      ['  - managed.policies[0] ("eng").cli.forceLoginMethod', '  - managed.policies[0] ("eng").cli.availableModels', '  - managed.policies[1].cli.mcpServers'],
    );
    assert.match(r.stderr, /mcpServers: not allowed in a gateway policy; use managedMcpServers/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  });
});

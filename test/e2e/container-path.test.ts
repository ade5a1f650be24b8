/**
 * What the Docker image runs, without a Docker engine: the Dockerfile's promises are checked
 * (base, non-root user, entrypoint, only production dependencies needed), then the bundle is
 * run exactly as its ENTRYPOINT does, from a copy of dist/server + package.json in a fresh
 * folder, with the config mounted at /etc/tollgate-like path and secrets only in the
 * environment. (The copy reuses this checkout's node_modules: `npm ci --omit=dev` cannot run
 * offline; the dependency check below stands in for it.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { SessionTokens } from '../../gateway-server/src/auth/session-token';
import { createPostgresDatabase } from '../support/db';
import { startMockAnthropic, sleep, type MockAnthropic } from '../support/mock-anthropic';
import { freePort, SERVER_BUNDLE } from '../support/process';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; type: string };

function entrypoint(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  assert.ok(m, 'Dockerfile has an exec-form ENTRYPOINT');
  return JSON.parse(m[1]!) as string[];
}

describe('container image path', function () {
  this.timeout(120_000);

  it('Dockerfile: node:24-slim stages, non-root runtime, the bundle as ENTRYPOINT', () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(froms.length >= 2, 'multi-stage');
    assert.ok(froms.every((f) => f === 'node:24-slim'), `bases: ${froms.join(', ')}`);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /npm ci --omit=dev|--from=deps/);
    assert.deepEqual(entrypoint(), ['node', 'dist/server/tollgate-gateway.js']);
    assert.match(runtime, /^CMD \["--config", "\/etc\/tollgate\/gateway\.yaml"\]$/m);
    assert.equal(pkg.type, 'module', 'the ESM bundle needs package.json "type": "module" beside it');
    const ignore = readFileSync('.dockerignore', 'utf8');
    for (const needed of ['package.json', 'package-lock.json', 'scripts/', 'gateway-server/']) assert.match(ignore, new RegExp(`^!${needed}$`, 'm'));
  });

  it('the bundle imports only Node built-ins and production dependencies', () => {
    const src = readFileSync(SERVER_BUNDLE, 'utf8');
    const specs = new Set([...src.matchAll(/(?:from |import\()\s*"([^"./][^"]*)"/g)].map((m) => m[1]!));
    const builtins = new Set(builtinModules);
    for (const s of specs) {
      if (s.startsWith('node:') || builtins.has(s)) continue;
      const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!;
      assert.ok(pkg.dependencies[name], `bundle imports ${s}, which is not a production dependency (npm ci --omit=dev would drop it)`);
    }
  });

  describe('running the ENTRYPOINT from a copy of the image layout', () => {
    let mock: MockAnthropic;
    let pgdb: { url: string; drop(): Promise<void> };
    let app: string;
    let configPath: string;
    let env: NodeJS.ProcessEnv;
    const jwt = 'container-secret-0123456789abcdef0123456789abcdef';

    before(async () => {
      mock = await startMockAnthropic({ apiKey: 'sk-from-env' });
      pgdb = await createPostgresDatabase();
      const root = mkdtempSync(join(tmpdir(), 'tollgate-image-'));
      app = join(root, 'app');
      mkdirSync(join(app, 'dist'), { recursive: true });
      cpSync(resolve('dist/server'), join(app, 'dist/server'), { recursive: true });
      cpSync('package.json', join(app, 'package.json'));
      symlinkSync(resolve('node_modules'), join(app, 'node_modules'));
      mkdirSync(join(root, 'etc/tollgate'), { recursive: true });
      configPath = join(root, 'etc/tollgate/gateway.yaml');
      const port = await freePort();
      writeFileSync(
        configPath,
        [
          'listen: { host: 127.0.0.1, port: ' + port + ' }',
          'session: { jwt_secret: "${GATEWAY_JWT_SECRET}" }',
          'store: { postgres_url: "${GATEWAY_POSTGRES_URL}" }',
          'upstreams:',
          '  - { name: anthropic, provider: anthropic, base_url: "' + mock.url + '", auth: { api_key: "${ANTHROPIC_API_KEY}" } }',
          '',
        ].join('\n'),
      );
      // The image's environment: only what the Dockerfile sets plus the secrets.
      env = {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        NODE_OPTIONS: '--enable-source-maps',
        TOLLGATE_LOG_LEVEL: 'warn',
        GATEWAY_JWT_SECRET: jwt,
        GATEWAY_POSTGRES_URL: pgdb.url,
        ANTHROPIC_API_KEY: 'sk-from-env',
      };
    });
    after(async () => {
      await mock?.close();
      await pgdb?.drop();
    });

    const [cmd, ...entryArgs] = entrypoint();
    const node = cmd === 'node' ? process.execPath : cmd!;

    it('`check` passes through the same entrypoint', async () => {
      // Asynchronous: the mock upstream lives in this process and must keep answering.
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
        const c = spawn(node, [...entryArgs, 'check', '--config', configPath], { cwd: app, env });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (status) => res({ status, stdout, stderr }));
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^ok +upstream anthropic .* accepted the credentials/m);
      assert.doesNotMatch(r.stdout + r.stderr, /sk-from-env|container-secret/);
    });

    it('serves, readies on PostgreSQL, answers the SDK, and exits 0 on SIGTERM', async () => {
      const child = spawn(node, [...entryArgs, '--config', configPath], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      try {
        const port = /port: (\d+)/.exec(readFileSync(configPath, 'utf8'))![1];
        const url = `http://127.0.0.1:${port}`;
        let ready = false;
        for (let i = 0; i < 300 && !ready && child.exitCode === null; i++) {
          ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
          if (!ready) await sleep(100);
        }
        assert.ok(ready, `not ready:\n${out}`);
        assert.equal(await (await fetch(`${url}/healthz`)).text(), 'ok');
        const token = new SessionTokens([jwt], url, 600).mint({ sub: 'u-image' }).token;
        const client = new Anthropic({ baseURL: url, authToken: token, apiKey: null, maxRetries: 0 });
        const msg = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(msg.type, 'message');
        child.kill('SIGTERM');
        assert.equal(await exited, 0, out);
        assert.doesNotMatch(out, /sk-from-env|container-secret/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});

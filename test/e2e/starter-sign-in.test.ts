/**
 * `npm start` on a fresh machine: the bundled server with --starter in an empty folder comes up,
 * prints its URL, runs the development IdP on loopback, and a newcomer signs in with the device
 * flow (headless browser leg as alice) and gets an answer from the real Claude Code CLI.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_BUNDLE, freePort } from '../support/process';
import { sleep } from '../support/mock-anthropic';
import { completeDeviceSignIn } from '../support/test-idp';
import { runClaude } from '../support/claude-cli';
import { DeviceFlowClient } from '../../gateway-server/src/protocol/device-flow-client';

describe('npm start (starter config) with the development IdP', function () {
  this.timeout(180_000);
  let child: ChildProcess;
  let out = '';
  let url: string;

  before(async function () {
    this.timeout(180_000);
    const home = mkdtempSync(join(tmpdir(), 'tollgate-starter-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, PORT: String(port), TOLLGATE_HOME: join(home, '.tollgate'), TOLLGATE_LOG_LEVEL: 'warn' };
    child = spawn(process.execPath, [SERVER_BUNDLE, '--starter'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 170_000;
    while (!/is serving (http:\/\/\S+)/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`starter did not come up:\n${out}`);
      await sleep(200);
    }
    url = /is serving (http:\/\/\S+)/.exec(out)![1]!;
  });
  after(() => {
    child?.kill('SIGKILL');
  });

  it('prints the URL and labels the development IdP loudly', () => {
    assert.equal(url, url.replace(/\/$/, ''));
    assert.match(out, /DEVELOPMENT-ONLY identity provider on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(out, /alice \(engineering\) or bob \(contractors\)/);
  });

  it('signs in with the device flow against the development IdP and answers through Claude Code', async () => {
    const client = new DeviceFlowClient({ baseUrl: url, sleep: (ms) => sleep(Math.min(ms, 5000)) });
    const start = await client.start({ surface: 'claude_code' });
    assert.match(start.login_notice ?? '', /alice or bob/);
    const page = await completeDeviceSignIn(start.verification_uri_complete!, { login: 'alice' });
    assert.match(page.html, /Development sign-in/);
    assert.match(page.html, /Signed in as alice@example\.com/);
    const tokens = await client.poll(start);
    assert.equal(tokens.email, 'alice@example.com');
    const run = await runClaude({ baseUrl: url, token: tokens.access_token, prompt: 'Say hello' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /simulated/i);
  });
});

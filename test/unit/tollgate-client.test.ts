/**
 * Pure parts of the `tollgate` command: where it keeps files on each platform, and the Codex
 * profile it writes (provider table, profile file, default merge that keeps the developer's keys).
 */
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { codexHome, configDir, credentialsFile, normaliseGatewayUrl } from '../../client/src/core/paths';
import { profileFileText, providerTable, withDefaultProvider, type CodexProfileInput } from '../../client/src/core/codex-profile';

const input: CodexProfileInput = { baseUrl: 'https://gw.example/v1', auth: { kind: 'command', command: 'tollgate', args: ['token', '--gateway', 'https://gw.example'] }, name: 'tollgate' };

describe('tollgate client: paths', () => {
  it('uses XDG_CONFIG_HOME, ~/.config, %APPDATA% and CODEX_HOME', () => {
    assert.equal(configDir({ env: { XDG_CONFIG_HOME: '/x' }, platform: 'linux', home: '/h' }), '/x/tollgate');
    assert.equal(configDir({ env: {}, platform: 'darwin', home: '/h' }), '/h/.config/tollgate');
    assert.equal(configDir({ env: { APPDATA: 'C:/Users/a/AppData/Roaming' }, platform: 'win32', home: '/h' }), 'C:/Users/a/AppData/Roaming/tollgate');
    assert.equal(codexHome({ env: {}, platform: 'linux', home: '/h' }), '/h/.codex');
    assert.equal(codexHome({ env: { CODEX_HOME: '/c' }, platform: 'linux', home: '/h' }), '/c');
  });
  it('keeps one credentials file per gateway and refuses what is not an http(s) URL', () => {
    const a = credentialsFile('/d', 'https://gw.example');
    assert.match(a, /^\/d\/sessions\/gw\.example-[0-9a-f]{10}\.json$/);
    assert.notEqual(a, credentialsFile('/d', 'https://gw.example:8443'));
    assert.equal(normaliseGatewayUrl(' https://gw.example/// '), 'https://gw.example');
    assert.throws(() => normaliseGatewayUrl('gw.example'), /is not a gateway URL/);
    assert.throws(() => normaliseGatewayUrl('file:///etc'), /is not a gateway URL/);
  });
});

describe('tollgate client: Codex profile', () => {
  it('points the provider at the gateway with the Responses API, no WebSockets, and the token command', () => {
    assert.deepEqual(providerTable(input), {
      name: 'Tollgate gateway',
      base_url: 'https://gw.example/v1',
      wire_api: 'responses',
      supports_websockets: false,
      auth: { command: 'tollgate', args: ['token', '--gateway', 'https://gw.example'], timeout_ms: 30_000, refresh_interval_ms: 0 },
    });
    const env = providerTable({ ...input, auth: { kind: 'env', envKey: 'K' } });
    assert.equal(env.env_key, 'K');
    assert.equal(env.auth, undefined);
  });
  it('writes the policy keys into the profile file, never over the provider', () => {
    const doc = parse(profileFileText({ ...input, model: 'gpt-5.5' }, { approval_policy: 'on-request', model_provider: 'evil', model_providers: { evil: {} } })) as Record<string, any>;
    assert.equal(doc.approval_policy, 'on-request');
    assert.equal(doc.model, 'gpt-5.5');
    assert.equal(doc.model_provider, 'tollgate');
    assert.deepEqual(Object.keys(doc.model_providers), ['tollgate']);
  });
  it('makes it the default in config.toml, keeping the developer\'s keys and dropping legacy profile keys', () => {
    const mine = 'approval_policy = "never"\nprofile = "tollgate"\n[profiles.tollgate]\nmodel = "x"\n[profiles.mine]\nmodel = "y"\n[mcp_servers.a]\ncommand = "a"\n';
    const doc = parse(withDefaultProvider(mine, input, 'config.toml', { approval_policy: 'on-request', sandbox_mode: 'read-only' })) as Record<string, any>;
    assert.equal(doc.approval_policy, 'never'); // the developer's value stays
    assert.equal(doc.sandbox_mode, 'read-only'); // the policy's default fills the gap
    assert.equal(doc.model_provider, 'tollgate');
    assert.equal(doc.profile, undefined);
    assert.deepEqual(Object.keys(doc.profiles), ['mine']);
    assert.equal(doc.mcp_servers.a.command, 'a');
    assert.throws(() => withDefaultProvider('a = "', input, '/h/.codex/config.toml'), /\/h\/\.codex\/config\.toml is not valid TOML .*Nothing was changed/);
  });
});

/** Issue 19 item 4: the gateway address asked for at sign-in, and no red error on an empty setting. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TollgateState } from '../../extension/src/platform/state';
import { sidebarStateSchema, webviewToHostSchema } from '../../gateway-server/src/protocol/webview';
import { gatewayUrlProblem, normaliseGatewayInput } from '../../extension/src/settings/gateway-url';

describe('extension gateway URL', () => {
  it('accepts http(s) base addresses and normalises them', () => {
    assert.equal(gatewayUrlProblem(' https://gw.example.com/ '), undefined);
    assert.equal(gatewayUrlProblem('http://127.0.0.1:8080'), undefined);
    assert.equal(normaliseGatewayInput(' https://GW.example.com/ '), 'https://gw.example.com');
    assert.equal(normaliseGatewayInput('https://gw.example.com/tollgate/'), 'https://gw.example.com/tollgate');
  });

  it('says what is wrong in a sentence', () => {
    assert.match(gatewayUrlProblem('')!, /^Enter your gateway's address/);
    assert.match(gatewayUrlProblem('gw.example.com')!, /is not an address\. Start it with https:\/\//);
    assert.match(gatewayUrlProblem('ftp://gw.example.com')!, /must start with https:\/\//);
    assert.match(gatewayUrlProblem('https://u:p@gw.example.com')!, /user name and password/);
    assert.match(gatewayUrlProblem('https://gw.example.com/?x=1')!, /without \? or #/);
  });

  it('the setting\'s schema accepts an empty value (no red "URI expected") and rejects a non-URL', () => {
    const pkg = JSON.parse(readFileSync('extension/package.json', 'utf8'));
    const conf = Array.isArray(pkg.contributes.configuration) ? pkg.contributes.configuration[0] : pkg.contributes.configuration;
    const prop = conf.properties['tollgate.gatewayUrl'];
    assert.equal(prop.format, undefined, 'format "uri" flags the empty default as an error');
    const re = new RegExp(prop.pattern);
    assert.equal(re.test(''), true);
    assert.equal(re.test('https://gw.example.com'), true);
    assert.equal(re.test('gw.example.com'), false);
    assert.match(prop.patternErrorMessage, /https:\/\//);
  });

  it('a pending sign-in shows as "Signing in…" with the code, and the sidebar may ask to copy it', () => {
    const state = new TollgateState('https://gw.example.com');
    assert.equal(state.status().text, 'Sign in');
    state.signingIn = { userCode: 'WDJB-MJHT', verificationUri: 'https://gw.example.com/device' };
    assert.equal(state.status().text, 'Signing in…');
    assert.match(state.status().tooltip, /WDJB-MJHT/);
    assert.deepEqual(sidebarStateSchema.parse(state.sidebar()).signIn, { userCode: 'WDJB-MJHT', verificationUri: 'https://gw.example.com/device' });
    assert.ok(webviewToHostSchema.safeParse({ type: 'rpc/request', id: 3, method: 'command/run', params: { command: 'copySignInCode' } }).success);
  });
});

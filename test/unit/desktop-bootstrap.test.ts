/**
 * GET /user/bootstrap's body, derived from the caller's policy: which callers get one, what each
 * derived field comes from, and that a desktop: block cannot override them. The expected bodies
 * are what Anthropic's gateway 2.1.332 answered for the same policies (observed on loopback;
 * test/integration/desktop-bootstrap.test.ts compares the two live).
 */
import assert from 'node:assert/strict';
import { ModelCatalogue } from '../../gateway-server/src/policy/model-catalogue';
import { PolicySet, type PolicyInput } from '../../gateway-server/src/policy/policy-set';
import { desktopBootstrap } from '../../gateway-server/src/policy/desktop-bootstrap';
import { desktopBootstrapSchema } from '../../gateway-server/src/protocol/desktop';
import type { Upstream } from '../../gateway-server/src/routing/upstream';

const anthropic: Upstream = { name: 'anthropic', provider: 'anthropic', send: async () => assert.fail('no network'), close: async () => {} };
const set = (policies: PolicyInput[]) => new PolicySet(policies, new ModelCatalogue([], true, [anthropic]), { publicUrl: 'https://gw.example.com' });
const caller = (groups: string[], email: string | null = 'dev@example.com') => ({ sub: `sub-${groups.join('-') || 'none'}`, email: email ?? undefined, groups });
const opts = { publicUrl: 'https://gw.example.com', relaysTelemetry: false, expiresAt: 1_800_000_000 };

const contractors: PolicyInput = {
  match: { groups: ['contractors'] },
  cli: { availableModels: ['claude-haiku-4-5'], permissions: { deny: ['WebFetch', 'Bash(rm:*)', 'Read(./.env)', 'WebFetch'] }, sandbox: { network: { allowedDomains: ['github.com', '*.npmjs.org'] } } },
  desktop: { isLocalDevMcpEnabled: false },
};
const base: PolicyInput = { match: {}, cli: { availableModels: ['claude-sonnet-4-6', 'claude-opus-4-8'], permissions: { deny: ['WebSearch'] } } };

describe('GET /user/bootstrap body', () => {
  it('derives models, bare denied tools (base first) and egress hosts, then the desktop keys, then expiresAt', () => {
    const r = desktopBootstrap(set([contractors, base]), caller(['contractors']), opts);
    assert.ok(r.ok);
    assert.equal(
      JSON.stringify(r.body),
      JSON.stringify({
        inferenceProvider: 'gateway',
        inferenceGatewayBaseUrl: 'https://gw.example.com',
        inferenceCredentialKind: 'interactive',
        inferenceModels: [{ name: 'claude-haiku-4-5' }],
        disabledBuiltinTools: ['WebSearch', 'WebFetch'],
        coworkEgressAllowedHosts: ['github.com', '*.npmjs.org'],
        isLocalDevMcpEnabled: false,
        expiresAt: 1_800_000_000,
      }),
    );
    assert.ok(desktopBootstrapSchema.safeParse(r.body).success);
  });

  it('marks 1M-context models and adds the OTLP relay with identity attributes when telemetry is relayed', () => {
    const r = desktopBootstrap(set([{ ...base, desktop: {} }]), caller(['eng', 'oncall']), { ...opts, relaysTelemetry: true });
    assert.ok(r.ok);
    assert.deepEqual(r.body.inferenceModels, [{ name: 'claude-opus-4-8', supports1m: true }, { name: 'claude-sonnet-4-6' }]);
    assert.equal(r.body.otlpEndpoint, 'https://gw.example.com');
    assert.equal(r.body.otlpProtocol, 'http/protobuf');
    assert.deepEqual(r.body.otlpResourceAttributes, { 'enduser.id': 'dev@example.com', 'user.email': 'dev@example.com', 'user.groups': 'eng,oncall', 'enduser.sub': 'sub-eng-oncall' });
  });

  it('leaves out user.groups past 255 encoded characters, and user.email when there is none', () => {
    const many = Array.from({ length: 40 }, (_, i) => `group-number-${i}`);
    const r = desktopBootstrap(set([{ match: {}, desktop: {} }]), caller(many, null), { ...opts, relaysTelemetry: true });
    assert.ok(r.ok);
    assert.deepEqual(r.body.otlpResourceAttributes, { 'enduser.id': `sub-${many.join('-')}`, 'enduser.sub': `sub-${many.join('-')}` });
  });

  it('a catch-all desktop block opts in every policy, merged under the specific one', () => {
    const s = set([{ ...contractors, desktop: { isLocalDevMcpEnabled: false } }, { ...base, desktop: { isLocalDevMcpEnabled: true, foo: 'bar' } }]);
    const c = desktopBootstrap(s, caller(['contractors']), opts);
    const other = desktopBootstrap(s, caller(['other']), opts);
    assert.ok(c.ok && other.ok);
    assert.equal(c.body.isLocalDevMcpEnabled, false);
    assert.equal(c.body.foo, 'bar');
    assert.equal(other.body.isLocalDevMcpEnabled, true);
  });

  it('denies with the reason Anthropic gateway logs: not_configured, no_policy_matched, policy_not_opted_in', () => {
    assert.deepEqual(desktopBootstrap(set([]), caller(['x']), opts), {
      ok: false,
      reason: 'not_configured',
      message: 'Claude Desktop is not configured on this gateway — add a "desktop:" block to a managed policy',
    });
    assert.deepEqual(desktopBootstrap(set([base]), caller(['x']), opts).ok, false);
    assert.equal((desktopBootstrap(set([base]), caller(['x']), opts) as { reason: string }).reason, 'not_configured');
    assert.deepEqual(desktopBootstrap(set([contractors]), caller(['other']), opts), { ok: false, reason: 'no_policy_matched', message: 'no policy matched' });
    assert.equal((desktopBootstrap(set([contractors, base]), caller(['other']), opts) as { reason: string }).reason, 'policy_not_opted_in');
  });

  it('a desktop: block cannot override derived fields, and boot says so', () => {
    const s = set([{ match: {}, cli: { availableModels: ['claude-haiku-4-5'] }, desktop: { inferenceGatewayBaseUrl: 'https://evil.example', inferenceModels: [] } }]);
    const r = desktopBootstrap(s, caller([]), opts);
    assert.ok(r.ok);
    assert.equal(r.body.inferenceGatewayBaseUrl, 'https://gw.example.com');
    assert.deepEqual(r.body.inferenceModels, [{ name: 'claude-haiku-4-5' }]);
    assert.equal(s.warnings.filter((w) => w.includes('.desktop.')).length, 2);
  });
});

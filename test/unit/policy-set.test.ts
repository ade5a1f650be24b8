import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GatewayError } from '../../gateway-server/src/errors';
import { ModelCatalogue, type ModelRow } from '../../gateway-server/src/policy/model-catalogue';
import { checksumOf, PolicyConfigError, PolicySet, type PolicyInput } from '../../gateway-server/src/policy/policy-set';
import { entryMatches } from '../../gateway-server/src/policy/model-match';
import { modelPricingSetting } from '../../gateway-server/src/spend/pricing';
import type { Upstream } from '../../gateway-server/src/routing/upstream';
import { ConfigError, resolveConfig } from '../../gateway-server/src/config/load';
import { buildPolicySet } from '../../gateway-server/src/policy/feature';

const upstream = (name: string, provider: string): Upstream => ({ name, provider, send: async () => assert.fail('no network in unit tests'), close: async () => {} });
const anthropic = upstream('anthropic', 'anthropic');
const bedrock = upstream('bedrock-us', 'bedrock');
const vertex = upstream('vertex', 'vertex');

function catalogue(rows: ModelRow[] = [], auto = true, ups = [anthropic, bedrock, vertex]) {
  return new ModelCatalogue(rows, auto, ups);
}
function set(policies: PolicyInput[], opts: { rows?: ModelRow[]; auto?: boolean; telemetry?: ConstructorParameters<typeof PolicySet>[2]['telemetry'] } = {}) {
  return new PolicySet(policies, catalogue(opts.rows, opts.auto), { telemetry: opts.telemetry, publicUrl: 'https://gw.example.com' });
}
const caller = (groups: string[] = [], email = 'dev@example.com') => ({ groups, email });

/** Independent of protocol/settings.ts: re-serialise with sorted keys through JSON.stringify's replacer. */
function independentChecksum(settings: unknown): string {
  const sortKeys = (_k: string, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v;
  return 'sha256:' + createHash('sha256').update(Buffer.from(JSON.stringify(settings, sortKeys), 'utf8')).digest('hex');
}

describe('managed settings checksum', () => {
  const vectors: [unknown, string][] = [
    [{ availableModels: ['claude-haiku-4-5'], skipWebFetchPreflight: true }, 'sha256:f520dafde43dab6eff381523eb003e5c9b3083e2b5f2374cef4c2e0bf972ea3c'],
    [
      { availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'], skipWebFetchPreflight: true, enforceAvailableModels: true, permissions: { deny: ['Read(./.env)'] }, env: { DISABLE_UPDATES: '1' } },
      'sha256:0a3cba1ff62d342b01e498b57d1d68d27fda2315d943ac8b642dc04008c7d7b0',
    ],
    [{}, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'],
  ];
  for (const [settings, expected] of vectors) {
    it(`matches the reference vector ${expected.slice(7, 19)}… and an independent computation`, () => {
      assert.equal(checksumOf(settings), expected);
      assert.equal(independentChecksum(settings), expected);
    });
  }
  it('keeps non-ASCII unescaped, sorts nested keys, keeps array order', () => {
    const s = { z: ['b', 'a'], a: { y: 'é日本', b: [{ d: 1, c: 2 }] } };
    assert.equal(checksumOf(s), independentChecksum(s));
  });
});

describe('model catalogue', () => {
  it('serves built-in IDs on every upstream with the provider ID, unless the map overrides', () => {
    const c = catalogue([{ id: 'claude-sonnet-4-5', upstream_model: { 'bedrock-us': 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0' } }]);
    const e = c.find('claude-sonnet-4-5')!;
    assert.deepEqual(
      e.candidates.map((x) => [x.upstream.name, x.upstreamModel]),
      [
        ['anthropic', 'claude-sonnet-4-5-20250929'],
        ['bedrock-us', 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0'],
        ['vertex', 'claude-sonnet-4-5@20250929'],
      ],
    );
    assert.deepEqual(c.find('claude-opus-4-8')!.candidates.map((x) => x.upstreamModel), ['claude-opus-4-8', 'us.anthropic.claude-opus-4-8', 'claude-opus-4-8']);
  });
  it('serves custom IDs only on the upstreams in their map, in upstream order', () => {
    const c = catalogue([{ id: 'team-fast', label: 'Team fast', upstream_model: { vertex: 'claude-haiku-4-5@20251001', 'bedrock-us': 'arn:aws:bedrock:x' } }]);
    assert.deepEqual(c.find('team-fast')!.candidates.map((x) => x.upstream.name), ['bedrock-us', 'vertex']);
    assert.equal(c.find('team-fast')!.displayName, 'Team fast');
  });
  it('auto_include_builtin_models: false exposes only the curated list', () => {
    const c = catalogue([{ id: 'claude-haiku-4-5', upstream_model: {} }], false);
    assert.deepEqual(c.entries.map((e) => e.id), ['claude-haiku-4-5']);
    assert.equal(c.find('claude-opus-4-8'), undefined);
  });
  it('finds a built-in by its dated alias', () => {
    assert.equal(catalogue().find('claude-haiku-4-5-20251001')!.id, 'claude-haiku-4-5');
  });
  it('warns about a custom model no upstream serves', () => {
    assert.match(catalogue([{ id: 'orphan', upstream_model: {} }]).warnings[0]!, /"orphan" names no upstream/);
  });
});

describe('availableModels entry matching (as Claude Code reads it)', () => {
  const rows: [string, string[], boolean, boolean][] = [
    ['opus', ['claude-opus-4-8'], false, true],
    ['opus', ['claude-sonnet-4-6'], false, false],
    ['claude-haiku-4-5', ['claude-haiku-4-5-20251001'], false, true],
    ['haiku-4-5', ['claude-haiku-4-5'], false, true],
    ['opus-4', ['claude-opus-4-8'], false, true],
    ['claude-opus-4-1', ['claude-opus-4-10'], false, false],
    ['sonnet[1m]', ['claude-sonnet-5'], false, true],
    ['claude-haiku-4-5', ['claude-haiku-4-5-20251001'], true, false],
    ['opus', ['claude-opus-4-8'], true, false],
    ['claude-opus-4-8', ['claude-opus-4-8'], true, true],
  ];
  for (const [entry, names, exact, expected] of rows) {
    it(`${entry} ${expected ? 'allows' : 'does not allow'} ${names[0]}${exact ? ' (exact)' : ''}`, () => assert.equal(entryMatches(entry, names, exact), expected));
  }
});

describe('policy set', () => {
  const base: PolicyInput = { name: 'everyone', match: {}, cli: { availableModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'], permissions: { deny: ['Read(./.env)'] }, env: { DISABLE_UPDATES: '1' } }, vscode: { 'files.exclude': { '**/.env': true } } };
  const eng: PolicyInput = { name: 'eng', match: { groups: ['engineering'] }, cli: { availableModels: ['opus', 'claude-sonnet-4-6'], permissions: { deny: ['WebFetch'] }, env: { FOO: 'bar' } }, vscode: { 'github.copilot.enable': { '*': false } } };

  it('pushes modelPricing derived from pricing to every policy, unless the policy sets its own', () => {
    const pricing = modelPricingSetting([{ model: 'claude-sonnet-4-6', input: 2.4, output: 12 }, { upstream: 'bedrock-us', model: 'claude-opus-4-8', input: 1 }], 0.9, 'anthropic');
    assert.deepEqual(pricing, { multiplier: 0.9, overrides: { 'claude-sonnet-4-6': { input: 2.4, output: 12, cacheRead: 0.24, cacheWrite: 3 } } });
    const own = { multiplier: 0.5 };
    const s = new PolicySet([{ ...eng, cli: { ...eng.cli, modelPricing: own } }, base], catalogue(), { publicUrl: 'https://gw.example.com', modelPricing: pricing });
    assert.deepEqual(s.select(caller(['sales']))!.settings.modelPricing, pricing);
    assert.deepEqual(s.select(caller(['engineering']))!.settings.modelPricing, own);
    assert.equal(s.select(caller(['sales']))!.checksum, checksumOf({ ...base.cli, modelPricing: pricing }));
    // All list price, multiplier 1: nothing to push, and the settings (and checksums) stay as they were.
    assert.equal(modelPricingSetting([], 1, 'anthropic'), undefined);
    // An upstream-specific row counts only for the first upstream, which serves normally.
    assert.deepEqual(modelPricingSetting([{ upstream: 'anthropic', model: 'claude-haiku-4-5', output: 4 }], 1, 'anthropic'), {
      overrides: { 'claude-haiku-4-5': { input: 1, output: 4, cacheRead: 0.1, cacheWrite: 1.25 } },
    });
  });

  it('serves the merged policy to a specific match and the catch-all to everyone else', () => {
    const s = set([eng, base]);
    const e = s.select(caller(['engineering']))!;
    assert.equal(e.label, 'eng');
    assert.deepEqual(e.settings, {
      availableModels: ['opus', 'claude-sonnet-4-6'],
      permissions: { deny: ['Read(./.env)', 'WebFetch'] },
      env: { DISABLE_UPDATES: '1', FOO: 'bar' },
    });
    assert.deepEqual(e.vscode, { 'files.exclude': { '**/.env': true }, 'github.copilot.enable': { '*': false } });
    assert.equal(e.checksum, checksumOf(e.settings));
    assert.deepEqual(e.models.map((m) => m.id), ['claude-opus-4-8', 'claude-opus-4-7', 'claude-sonnet-4-6', 'claude-opus-4-1']);
    const other = s.select(caller(['sales']))!;
    assert.equal(other.label, 'everyone');
    assert.deepEqual(other.settings, base.cli);
  });

  it('a caller matching nothing gets no settings and every catalogue model', () => {
    const s = set([eng]);
    assert.equal(s.select(caller(['sales'])), undefined);
    assert.equal(s.resolve(caller(['sales']), 'claude-opus-4-8').length, 3);
    assert.equal(s.unmatched.models.length, 7);
  });

  it('resolve returns the failover candidates and accepts dated aliases', () => {
    const s = set([base]);
    assert.deepEqual(s.resolve(caller(), 'claude-haiku-4-5-20251001').map((c) => c.upstreamModel), [
      'claude-haiku-4-5-20251001',
      'us.anthropic.claude-haiku-4-5-20251001-v1:0',
      'claude-haiku-4-5@20251001',
    ]);
  });

  it('refuses a model outside availableModels with a message that names it and says what to do', () => {
    const s = set([base]);
    assert.throws(
      () => s.resolve(caller(), 'claude-opus-4-8'),
      (err: GatewayError) =>
        err.code === 'MODEL_NOT_ALLOWED' &&
        err.status === 400 &&
        err.type === 'invalid_request_error' &&
        err.message === "model claude-opus-4-8 is not in your policy's availableModels allowlist; allowed: claude-sonnet-4-6, claude-haiku-4-5. Ask your gateway administrator for access.",
    );
    assert.throws(() => s.resolve(caller(), 'gpt-4o'), (err: GatewayError) => err.code === 'MODEL_NOT_ALLOWED' && /model gpt-4o is not in your policy/.test(err.message));
  });

  it('MODEL_NOT_CONFIGURED when the policy allows a model no upstream serves', () => {
    const s = set([{ match: {}, cli: { availableModels: ['claude-haiku-4-5', 'team-model'] } }]);
    assert.throws(() => s.resolve(caller(), 'team-model'), (err: GatewayError) => err.code === 'MODEL_NOT_CONFIGURED' && /team-model/.test(err.message));
    const open = set([]);
    assert.throws(() => open.resolve(caller(), 'mystery-model'), (err: GatewayError) => err.code === 'MODEL_NOT_CONFIGURED' && /mystery-model is not offered/.test(err.message));
  });

  it('enforces deniedModels on the server too', () => {
    const s = set([{ match: {}, cli: { deniedModels: ['opus'] } }]);
    assert.throws(() => s.resolve(caller(), 'claude-opus-4-8'), (err: GatewayError) => err.code === 'MODEL_NOT_ALLOWED' && /deniedModels/.test(err.message));
    assert.equal(s.resolve(caller(), 'claude-sonnet-5').length, 3);
  });

  it('injects telemetry env under the policy env, and synthesises a catch-all when there is no policy', () => {
    const telemetry = { forward_to: [{ metrics: true, logs: false, traces: false }, { metrics: false, logs: true, traces: false }], resource_attributes: { 'deployment.environment': 'prod eu', 'user.id': 'spoof' } };
    const s = set([{ match: {}, cli: { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com' } } }], { telemetry });
    assert.deepEqual(s.policies[0]!.settings.env, {
      CLAUDE_CODE_ENABLE_TELEMETRY: '1',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod%20eu',
    });
    assert.ok(s.warnings.some((w) => /user\.id/.test(w)));
    const synth = set([], { telemetry });
    assert.equal(synth.policies.length, 1);
    assert.equal(synth.select(caller())!.label, 'telemetry (synthesised)');
    assert.equal((synth.select(caller())!.settings.env as Record<string, string>).OTEL_EXPORTER_OTLP_ENDPOINT, 'https://gw.example.com');
    assert.equal(set([]).policies.length, 0, 'no telemetry, no policies: nothing synthesised');
  });

  it('rejects bad cli blocks at boot, one sentence per problem naming policy and key', () => {
    const bad = (p: PolicyInput[]) => {
      try {
        set(p);
      } catch (err) {
        assert.ok(err instanceof PolicyConfigError);
        return err.problems;
      }
      return assert.fail('expected PolicyConfigError');
    };
    const problems = bad([
      { name: 'eng', match: { groups: ['eng'] }, cli: { forceLoginMethod: 'gateway', mcpServers: {}, availableModels: 'opus', env: { N: 1 }, futureKey: { any: 'thing' } } },
      { match: {}, settings: { forceLoginGatewayUrl: 'https://x', gatewayInternalNetworks: [], forceLoginOrgUUID: 'u', permissions: { deny: 'Read' } }, vscode: { 'not a setting': 1 } },
    ]);
    const text = problems.join('\n');
    assert.match(text, /managed\.policies\[0\] \("eng"\)\.cli\.forceLoginMethod: not allowed in a gateway policy/);
    assert.match(text, /managed\.policies\[0\] \("eng"\)\.cli\.mcpServers: .*use managedMcpServers/);
    assert.match(text, /managed\.policies\[0\] \("eng"\)\.cli\.availableModels: /);
    assert.match(text, /managed\.policies\[0\] \("eng"\)\.cli\.env\.N: must be a string/);
    assert.match(text, /managed\.policies\[1\]\.settings\.forceLoginGatewayUrl: not allowed/);
    assert.match(text, /managed\.policies\[1\]\.settings\.gatewayInternalNetworks: not allowed/);
    assert.match(text, /managed\.policies\[1\]\.settings\.forceLoginOrgUUID: not allowed/);
    assert.match(text, /managed\.policies\[1\]\.settings\.permissions\.deny: /);
    assert.match(text, /managed\.policies\[1\]\.vscode: "not a setting" is not a VS Code setting ID/);
    assert.match(text, /managed\.policies\[0\] \("eng"\)\.cli\.futureKey: is not a Claude Code managed setting Tollgate knows\. If it is a newer setting, list it in managed\.allow_unknown_cli_keys\./);
  });

  it('refuses an unknown cli key with the nearest known one, unless allow_unknown_cli_keys names it', () => {
    const attempt = (cli: Record<string, unknown>, allowUnknownCliKeys?: string[]) => {
      try {
        new PolicySet([{ match: {}, cli }], catalogue(), { publicUrl: 'https://gw.example.com', allowUnknownCliKeys });
        return [];
      } catch (err) {
        assert.ok(err instanceof PolicyConfigError);
        return err.problems;
      }
    };
    // The typo from issue 14: it silently turned the group's model restriction off.
    assert.deepEqual(attempt({ availableModel: ['claude-sonnet-4-6'] }), [
      'managed.policies[0].cli.availableModel: is not a Claude Code managed setting Tollgate knows; did you mean "availableModels"? If it is a newer setting, list it in managed.allow_unknown_cli_keys.',
    ]);
    assert.match(attempt({ EnforceAvailableModels: true })[0]!, /did you mean "enforceAvailableModels"\?/);
    assert.match(attempt({ permisions: { deny: ['Read'] } })[0]!, /did you mean "permissions"\?/);
    assert.deepEqual(attempt({ futureKey: 1 }, ['futureKey']), []);
    assert.equal(attempt({ futureKey: 1, otherKey: 2 }, ['futureKey']).length, 1);
    assert.deepEqual(attempt({ managedMcpServers: [], fallbackModel: 'claude-haiku-4-5', availableModels: ['claude-sonnet-4-6'] }), []);
  });

  it('treats settings as the legacy alias of cli, refusing both at once', () => {
    assert.deepEqual(set([{ match: {}, settings: { model: 'x' } }]).policies[0]!.settings, { model: 'x' });
    assert.throws(() => set([{ match: {}, cli: {}, settings: {} }]), /both cli and settings/);
  });

  it('warns about a catch-all that is not last and availableModels entries that match nothing', () => {
    const s = set([{ match: {}, cli: { availableModels: ['claude-nonexistent-9'] } }, eng]);
    assert.ok(s.warnings.some((w) => /is not the last policy/.test(w)));
    assert.ok(s.warnings.some((w) => /"claude-nonexistent-9" matches no model/.test(w)));
  });
});

describe('gateway.example.yaml policies', () => {
  it('compile without problems or warnings', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const doc = parse(readFileSync('gateway.example.yaml', 'utf8')) as { managed: { policies: PolicyInput[] }; models?: ModelRow[] };
    const s = new PolicySet(doc.managed.policies, catalogue(doc.models ?? []), { publicUrl: 'https://gw.example.com' });
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(s.select(caller(['contractors']))!.models.map((m) => m.id), ['claude-haiku-4-5']);
  });
});

describe('managed.allow_unknown_cli_keys (through gateway.yaml)', () => {
  const boot = (managed: Record<string, unknown>) => {
    const config = resolveConfig({ listen: { host: '127.0.0.1' }, session: { jwt_secret: 'x'.repeat(32) }, upstreams: [{ provider: 'simulated' }], managed }, {});
    return () => buildPolicySet({ config, upstreams: [] });
  };
  it('turns a typo into a boot error and accepts a key the operator names', () => {
    assert.throws(boot({ policies: [{ match: {}, cli: { availableModel: ['claude-sonnet-4-6'] } }] }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems[0]!, /^managed\.policies\[0\]\.cli\.availableModel: .*did you mean "availableModels"\?/);
      return true;
    });
    assert.doesNotThrow(boot({ allow_unknown_cli_keys: ['futureKey'], policies: [{ match: {}, cli: { futureKey: true } }] }));
  });
});

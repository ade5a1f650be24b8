/**
 * GET /user/bootstrap's answer for one caller (claude-apps-gateway-spec.md §3 "Claude Desktop"),
 * derived from the policy the caller matches. Pure: no fastify, no clock, no config loading.
 *
 * Anthropic's gateway (2.1.332, observed on loopback) derives: models from the policy's allowed
 * models, disabled tools from bare tool names in `permissions.deny` (rules with a specifier such
 * as `Bash(rm:*)` are not tools), egress hosts from `sandbox.network.allowedDomains`, the OTLP
 * relay when telemetry is forwarded; then the `desktop:` block's own keys, then `expiresAt`.
 */
import { DESKTOP_DERIVED_KEYS, type DesktopBootstrap, type DesktopDenial } from '../protocol/desktop';
import type { EffectivePolicy, PolicySet } from './policy-set';

export interface BootstrapCaller {
  sub: string;
  email?: string;
  groups: readonly string[];
}

export interface BootstrapOptions {
  publicUrl: string;
  /** Whether telemetry is relayed (`telemetry.forward_to` non-empty): the OTLP fields point at us. */
  relaysTelemetry: boolean;
  /** Unix seconds at which the configuration should be fetched again (now + session TTL). */
  expiresAt: number;
}

export type BootstrapResult =
  | { ok: true; body: DesktopBootstrap; policy: EffectivePolicy }
  | { ok: false; reason: DesktopDenial; message: string };

const DENIALS: Record<DesktopDenial, string> = {
  not_configured: 'Claude Desktop is not configured on this gateway — add a "desktop:" block to a managed policy',
  no_policy_matched: 'no policy matched',
  policy_not_opted_in: 'the policy matching this user does not opt into desktop — add a "desktop:" block to it',
};

/** A tool name on its own (`WebFetch`, `mcp__github__create_issue`), not a rule with a specifier. */
const BARE_TOOL = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Comma-separated groups are left out past this encoded length (spec §7, "Identity attributes"). */
const MAX_GROUPS_ATTRIBUTE = 255;

export function desktopBootstrap(set: PolicySet, caller: BootstrapCaller & object, opts: BootstrapOptions): BootstrapResult {
  const deny = (reason: DesktopDenial): BootstrapResult => ({ ok: false, reason, message: DENIALS[reason] });
  if (!set.desktopConfigured) return deny('not_configured');
  const policy = set.select(caller);
  if (!policy) return deny('no_policy_matched');
  if (!policy.desktop) return deny('policy_not_opted_in');

  const settings = policy.settings;
  // Built in the order Anthropic's gateway writes its fields; `expiresAt` last.
  const body: Record<string, unknown> = {
    inferenceProvider: 'gateway',
    inferenceGatewayBaseUrl: opts.publicUrl,
    inferenceCredentialKind: 'interactive',
    ...(opts.relaysTelemetry
      ? { otlpEndpoint: opts.publicUrl, otlpProtocol: 'http/protobuf' as const, otlpResourceAttributes: identityAttributes(caller) }
      : {}),
    inferenceModels: policy.models.map((m) => ({ name: m.id, ...(m.maxInputTokens && m.maxInputTokens >= 1_000_000 ? { supports1m: true as const } : {}) })),
  };
  const tools = disabledTools(settings);
  if (tools.length) body.disabledBuiltinTools = tools;
  const hosts = egressHosts(settings);
  if (hosts) body.coworkEgressAllowedHosts = hosts;
  for (const [k, v] of Object.entries(policy.desktop)) if (!DESKTOP_DERIVED_KEYS.includes(k)) body[k] = v;
  body.expiresAt = opts.expiresAt;
  return { ok: true, body: body as DesktopBootstrap, policy };
}

function identityAttributes(caller: BootstrapCaller): Record<string, string> {
  const attrs: Record<string, string> = { 'enduser.id': caller.email ?? caller.sub };
  if (caller.email) attrs['user.email'] = caller.email;
  const groups = caller.groups.join(',');
  if (groups && encodeURIComponent(groups).length <= MAX_GROUPS_ATTRIBUTE) attrs['user.groups'] = groups;
  attrs['enduser.sub'] = caller.sub;
  return attrs;
}

function disabledTools(settings: Record<string, unknown>): string[] {
  const permissions = settings.permissions as { deny?: unknown } | undefined;
  const deny = Array.isArray(permissions?.deny) ? permissions.deny : [];
  return [...new Set(deny.filter((d): d is string => typeof d === 'string' && BARE_TOOL.test(d)))];
}

function egressHosts(settings: Record<string, unknown>): string[] | undefined {
  const sandbox = settings.sandbox as { network?: { allowedDomains?: unknown } } | undefined;
  const domains = sandbox?.network?.allowedDomains;
  if (!Array.isArray(domains)) return undefined;
  const hosts = domains.filter((d): d is string => typeof d === 'string');
  return hosts.length ? hosts : undefined;
}

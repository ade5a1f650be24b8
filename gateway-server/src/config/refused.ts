/**
 * Keys the schema knows (so a file written for the Claude apps gateway parses) but Tollgate does
 * not implement. Accepting such a key and ignoring it would let an operator believe in a control
 * that does not exist, so boot refuses each one with a sentence saying what to do instead.
 * test/unit/config-keys.test.ts fails when a schema key is neither implemented nor listed here.
 *
 * Paths are dotted; `upstreams[anthropic]` means "every upstream whose provider is anthropic".
 */
import type { GatewayConfig } from './schema';

export interface RefusedKey {
  path: string;
  /** Completes "<path> is not supported: …"; says what to do instead. */
  instead: string;
}

const WIF =
  'Tollgate does not implement Workload Identity Federation for the Anthropic API; set upstreams[].auth.api_key (or oauth_token) instead';

export const REFUSED_KEYS: readonly RefusedKey[] = [
  { path: 'upstreams[anthropic].auth.federation_rule_id', instead: WIF },
  { path: 'upstreams[anthropic].auth.organization_id', instead: WIF },
  { path: 'upstreams[anthropic].auth.identity_token_file', instead: WIF },
  { path: 'upstreams[anthropic].auth.workspace_id', instead: WIF },
  { path: 'upstreams[anthropic].auth.service_account_id', instead: WIF },
  {
    path: 'upstreams[azure_openai].auth.entra_id.managed_identity',
    instead:
      'Tollgate does not obtain Entra ID tokens through a managed or workload identity; give the app registration a client secret or certificate (auth.entra_id.tenant_id, client_id, client_secret or client_certificate_path), or set auth.api_key',
  },
  {
    path: 'admin.billing_group_tag',
    instead: 'Tollgate does not tag sessions with a billing group; remove the key and report spend per group with the Admin API usage endpoint',
  },
  {
    path: 'oidc.google_groups',
    instead:
      'Tollgate does not look up Google Workspace groups; remove the key and send groups in the ID token (oidc.groups_claim) or match policies by email_domain',
  },
];

/** Sentences for every refused key present in the raw (pre-default) document, plus cross-key guards. */
export function refusedKeyProblems(raw: unknown, cfg: GatewayConfig): string[] {
  const problems: string[] = [];
  for (const r of REFUSED_KEYS) {
    for (const at of findPresent(raw, r.path.split('.'))) problems.push(`${at}: is not supported: ${r.instead}.`);
  }
  problems.push(...identityForwardingProblems(cfg), ...insecureIssuerProblems(cfg));
  return problems;
}

/** Concrete paths (`upstreams.0.auth.workspace_id`) where `pattern` is set in `value`. */
function findPresent(value: unknown, pattern: string[], at: string[] = []): string[] {
  if (pattern.length === 0) return [at.join('.')];
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  const [head, ...rest] = pattern as [string, ...string[]];
  const sel = /^(\w+)\[(\w+)\]$/.exec(head);
  const obj = value as Record<string, unknown>;
  if (!sel) return head in obj && obj[head] !== undefined ? findPresent(obj[head], rest, [...at, head]) : [];
  const list = obj[sel[1]!];
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, i) =>
    // Union members are told apart by `provider` (upstreams) or `type` (audit sinks).
    ((item as { provider?: unknown; type?: unknown })?.provider ?? (item as { type?: unknown })?.type) === sel[2]
      ? findPresent(item, rest, [...at, sel[1]!, String(i)])
      : [],
  );
}

const ANTHROPIC_HOST = /(^|\.)anthropic\.com$/i;

/**
 * The identity headers are meant for a proxy of the operator's own (LiteLLM, an egress gateway);
 * sent to Anthropic they would hand every user's e-mail address to a third party for nothing.
 */
function identityForwardingProblems(cfg: GatewayConfig): string[] {
  return cfg.upstreams.flatMap((u, i) => {
    if (u.provider !== 'anthropic' || !u.forward_user_identity) return [];
    // A trailing dot (`api.anthropic.com.`) names the same host.
    const host = new URL(u.base_url ?? 'https://api.anthropic.com').hostname.replace(/\.$/, '');
    if (!ANTHROPIC_HOST.test(host)) return [];
    return [
      `upstreams.${i}.forward_user_identity: would send every user's id and e-mail address to Anthropic (${host}); ` +
        'it is only for a proxy of your own: set base_url to that proxy, or remove forward_user_identity.',
    ];
  });
}

/** An http:// IdP fails at the first sign-in without the opt-in; say so at boot instead. */
function insecureIssuerProblems(cfg: GatewayConfig): string[] {
  const o = cfg.oidc;
  if (!o || o.allow_insecure_issuer) return [];
  return (['issuer', 'discovery_url'] as const).flatMap((k) =>
    o[k]?.startsWith('http://')
      ? [
          `oidc.${k}: ${o[k]} is plain http://, which sign-in refuses; use the IdP's https:// URL, ` +
            'or (development only) add oidc.allow_insecure_issuer: true.',
        ]
      : [],
  );
}

/**
 * The policies as the gateway serves them, computed once at boot: each policy merged onto the
 * catch-all, telemetry env added, checksum taken, model allow-list resolved against the catalogue.
 * Per request only selection (matching.ts) and map look-ups remain. Pure: no fastify, no db.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../protocol/settings';
import { GatewayError } from '../errors';
import type { RouteCandidate } from '../routing/failover';
import { validateCliSettings, validateVscodeSettings } from './cli-settings';
import { isCatchAll, orderingWarnings, selectPolicy, type Caller, type PolicyMatch } from './matching';
import { mergeCliSettings, mergeVscodeSettings } from './merge';
import type { CatalogueEntry, ModelCatalogue } from './model-catalogue';
import { entryMatches } from './model-match';
import { isReservedAttribute, telemetryEnv, type TelemetryConfig } from './telemetry-env';
import { DESKTOP_DERIVED_KEYS } from '../protocol/desktop';
import { codexModelAllowed, type CodexPolicy } from '../protocol/codex';

type Doc = Record<string, unknown>;

export interface PolicyInput {
  name?: string;
  match: PolicyMatch;
  cli?: Doc;
  settings?: Doc;
  vscode?: Doc;
  desktop?: Doc;
  codex?: CodexPolicy;
}

export interface EffectivePolicy {
  /** Position in managed.policies; -1 for the policy synthesised for telemetry. */
  index: number;
  name?: string;
  /** `name`, or `managed.policies[i]`: how logs and /v1/me refer to it. */
  label: string;
  match: PolicyMatch;
  settings: Doc;
  checksum: string;
  vscode: Doc;
  /** The `desktop:` block (merged onto the catch-all's), or undefined: this policy does not opt into GET /user/bootstrap. */
  desktop?: Doc;
  /** Models this policy may use, in catalogue order. */
  models: readonly CatalogueEntry[];
  /** Every ID or alias of an allowed model → its entry. */
  byName: ReadonlyMap<string, CatalogueEntry>;
  availableModels?: readonly string[];
  deniedModels?: readonly string[];
  exact: boolean;
  /** The merged `codex:` block (catch-all first); no availableModels = no OpenAI-family model. */
  codex: { availableModels: readonly string[]; config: Doc; requirements: Doc; checksum: string };
}

export function checksumOf(settings: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(settings), 'utf8').digest('hex')}`;
}

export class PolicyConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyConfigError';
  }
}

export class PolicySet {
  readonly policies: readonly EffectivePolicy[];
  /** What a caller matching no policy gets: no managed settings, every catalogue model. */
  readonly unmatched: EffectivePolicy;
  readonly warnings: string[] = [];
  /** Whether any policy has a `desktop:` block (GET /user/bootstrap is configured at all). */
  readonly desktopConfigured: boolean;
  private readonly inputs: readonly PolicyInput[];
  private readonly cache = new WeakMap<object, EffectivePolicy | null>();

  /** Throws PolicyConfigError with one sentence per problem. */
  constructor(
    policies: readonly PolicyInput[],
    readonly catalogue: ModelCatalogue,
    opts: { telemetry?: TelemetryConfig; publicUrl: string; /** Injected as `modelPricing` unless a policy sets its own. */ modelPricing?: Doc; allowUnknownCliKeys?: readonly string[] },
  ) {
    const problems: string[] = [];
    const label = (i: number) => (policies[i]?.name ? `managed.policies[${i}] ("${policies[i]!.name}")` : `managed.policies[${i}]`);
    const docs = policies.map((p, i) => {
      if (p.cli && p.settings) problems.push(`${label(i)}: has both cli and settings (its legacy alias); keep only cli.`);
      const cli = p.cli ?? p.settings ?? {};
      problems.push(...validateCliSettings(cli, `${label(i)}.${p.cli || !p.settings ? 'cli' : 'settings'}`, opts.allowUnknownCliKeys));
      if (p.vscode) problems.push(...validateVscodeSettings(p.vscode, `${label(i)}.vscode`));
      return cli;
    });
    if (problems.length) throw new PolicyConfigError(problems);
    this.warnings.push(...orderingWarnings(policies, label));
    policies.forEach((p, i) => {
      for (const k of Object.keys(p.desktop ?? {})) {
        if (DESKTOP_DERIVED_KEYS.includes(k)) this.warnings.push(`${label(i)}.desktop.${k}: GET /user/bootstrap derives this field from the policy; the value here is ignored.`);
      }
    });

    const env = telemetryEnv(opts.telemetry, opts.publicUrl);
    for (const k of Object.keys(opts.telemetry?.resource_attributes ?? {})) {
      if (isReservedAttribute(k)) this.warnings.push(`telemetry.resource_attributes.${k}: the prefix is reserved for identity attributes Claude Code sets itself; it is not pushed.`);
    }
    let inputs = policies;
    let cliDocs = docs;
    if (env && policies.length === 0) {
      inputs = [{ name: 'telemetry (synthesised)', match: {} }];
      cliDocs = [{}];
    }
    this.inputs = inputs;
    this.desktopConfigured = inputs.some((p) => p.desktop !== undefined);
    const base = inputs.findIndex((p) => isCatchAll(p.match));
    this.policies = inputs.map((p, i) => {
      let settings = cliDocs[i]!;
      let vscode = p.vscode ?? {};
      let desktop = p.desktop;
      if (base >= 0 && base !== i && !isCatchAll(p.match)) {
        settings = mergeCliSettings(cliDocs[base]!, settings);
        vscode = mergeVscodeSettings(inputs[base]!.vscode ?? {}, vscode);
        // A catch-all with a desktop block opts every policy in (as Anthropic's gateway does).
        const baseDesktop = inputs[base]!.desktop;
        if (baseDesktop || desktop) desktop = { ...baseDesktop, ...desktop };
      }
      if (env) settings = { ...settings, env: { ...env, ...((settings.env as Doc | undefined) ?? {}) } };
      if (opts.modelPricing && settings.modelPricing === undefined) settings = { ...settings, modelPricing: opts.modelPricing };
      const synthesised = inputs !== policies;
      const codex = base >= 0 && base !== i && !isCatchAll(p.match) ? mergeCodex(inputs[base]!.codex, p.codex) : p.codex;
      return this.effective(synthesised ? -1 : i, { ...p, codex }, p.name ?? `managed.policies[${i}]`, settings, vscode, label(i), desktop);
    });
    this.unmatched = this.effective(-2, { match: {} }, 'none', {}, {}, 'none');
  }

  private effective(index: number, p: PolicyInput, label: string, settings: Doc, vscode: Doc, where: string, desktop?: Doc): EffectivePolicy {
    const available = Array.isArray(settings.availableModels) ? (settings.availableModels as string[]) : undefined;
    const denied = Array.isArray(settings.deniedModels) ? (settings.deniedModels as string[]) : undefined;
    const exact = settings.availableModelsMatch === 'exact';
    const models = this.catalogue.entries.filter(
      (m) => (!available || available.some((e) => entryMatches(e, m.names, exact))) && !denied?.some((e) => entryMatches(e, m.names)),
    );
    const byName = new Map<string, CatalogueEntry>();
    for (const m of models) for (const n of m.names) byName.set(n, m);
    if (where !== 'none') {
      for (const e of available ?? []) {
        if (!this.catalogue.entries.some((m) => entryMatches(e, m.names, exact))) {
          this.warnings.push(`${where}: availableModels entry "${e}" matches no model in the catalogue (models: / auto_include_builtin_models).`);
        }
      }
      if (available && available.length === 0) this.warnings.push(`${where}: availableModels is empty, so the gateway refuses every model for this policy.`);
    }
    return {
      index,
      name: p.name,
      label,
      match: p.match,
      settings,
      checksum: checksumOf(settings),
      vscode,
      ...(desktop ? { desktop } : {}),
      models,
      byName,
      availableModels: available,
      deniedModels: denied,
      exact,
      codex: effectiveCodex(p.codex),
    };
  }

  /** The policy a caller gets, or undefined when none matches. Cached per principal object. */
  select(caller: Caller & object): EffectivePolicy | undefined {
    const hit = this.cache.get(caller);
    if (hit !== undefined) return hit ?? undefined;
    const sel = selectPolicy(this.inputs, caller);
    const eff = sel ? this.policies[sel.winner]! : undefined;
    this.cache.set(caller, eff ?? null);
    return eff;
  }

  /** Failover candidates for `model`, or a GatewayError whose message says what to do. */
  resolve(caller: Caller & object, model: string): RouteCandidate[] {
    const eff = this.select(caller) ?? this.unmatched;
    const entry = eff.byName.get(model);
    if (entry) {
      if (entry.candidates.length === 0) throw notConfigured(model);
      return entry.candidates as RouteCandidate[];
    }
    throw this.refusal(eff, model);
  }

  /** The caller's OpenAI-family models an upstream serves (exact `codex.availableModels` entries). */
  openaiModels(caller: Caller & object): string[] {
    const eff = this.select(caller) ?? this.unmatched;
    return eff.codex.availableModels.filter((m) => !m.endsWith('*') && this.catalogue.openaiCandidates(m).length > 0);
  }

  /** OpenAI-family failover candidates for `model` (codex.availableModels), or a GatewayError saying what to do. */
  resolveOpenAI(caller: Caller & object, model: string): RouteCandidate[] {
    const eff = this.select(caller) ?? this.unmatched;
    const allowed = eff.codex.availableModels;
    if (!codexModelAllowed(allowed, model)) {
      const list = allowed.length ? allowed.join(', ') : 'none';
      return throwError(
        new GatewayError(
          'MODEL_NOT_ALLOWED',
          `model ${model} is not in your policy's codex.availableModels allowlist; allowed: ${list}. Pick an allowed model (codex -m <model>) or ask your gateway administrator for access.`,
        ),
      );
    }
    const candidates = this.catalogue.openaiCandidates(model);
    if (candidates.length === 0) {
      throw new GatewayError('MODEL_NOT_CONFIGURED', `model ${model} is not served by any OpenAI upstream of this gateway. Ask your gateway administrator to add it.`);
    }
    return candidates;
  }

  private refusal(eff: EffectivePolicy, model: string): GatewayError {
    const known = this.catalogue.find(model);
    const names = known?.names ?? [model];
    const allowedList = eff.models.map((m) => m.id).join(', ') || 'none';
    if (eff.deniedModels?.some((e) => entryMatches(e, names))) {
      return new GatewayError(
        'MODEL_NOT_ALLOWED',
        `model ${model} is blocked by your policy's deniedModels; allowed: ${allowedList}. Ask your gateway administrator for access.`,
      );
    }
    const listed = eff.availableModels?.some((e) => entryMatches(e, names, eff.exact));
    if (eff.availableModels && !listed) {
      return new GatewayError(
        'MODEL_NOT_ALLOWED',
        `model ${model} is not in your policy's availableModels allowlist; allowed: ${allowedList}. Ask your gateway administrator for access.`,
      );
    }
    return notConfigured(model, allowedList);
  }
}

function notConfigured(model: string, available?: string): GatewayError {
  return new GatewayError(
    'MODEL_NOT_CONFIGURED',
    `model ${model} is not offered by this gateway${available ? `; available: ${available}` : ' (no upstream is configured for it)'}. Ask your gateway administrator to add it.`,
  );
}

function throwError(err: GatewayError): never {
  throw err;
}

function mergeCodex(base: CodexPolicy | undefined, own: CodexPolicy | undefined): CodexPolicy | undefined {
  if (!base) return own;
  if (!own) return base;
  return {
    availableModels: own.availableModels ?? base.availableModels,
    config: { ...base.config, ...own.config },
    requirements: { ...base.requirements, ...own.requirements },
  };
}

function effectiveCodex(c: CodexPolicy | undefined): EffectivePolicy['codex'] {
  const out = { availableModels: c?.availableModels ?? [], config: (c?.config ?? {}) as Doc, requirements: (c?.requirements ?? {}) as Doc };
  return { ...out, checksum: checksumOf(out) };
}

/**
 * The models this gateway offers (`models:` plus, with `auto_include_builtin_models`, the
 * built-in catalogue) and, for each, the upstreams that serve it in failover order with the ID
 * each upstream knows it by (claude-apps-gateway-spec.md §4). Pure: built once at boot.
 *   - A custom ID is served only by the upstreams named in its `upstream_model` map.
 *   - A built-in ID is served by every upstream, under the provider's ID unless the map overrides.
 */
import { familyOf, type Upstream } from '../routing/upstream';
import type { RouteCandidate } from '../routing/failover';
import { BUILTIN_MODELS, findBuiltinModel, providerModelId } from './builtin-models';

export interface CatalogueEntry {
  id: string;
  displayName: string;
  description?: string;
  createdAt: string;
  maxInputTokens?: number;
  /** Every ID a client may send for this model: the ID first, then dated aliases. */
  names: readonly string[];
  candidates: readonly RouteCandidate[];
}

export interface ModelRow {
  id: string;
  label?: string;
  description?: string;
  upstream_model: Readonly<Record<string, string>>;
}

/** Custom models without a release date list under the Unix epoch (the field is required). */
const UNKNOWN_DATE = '1970-01-01T00:00:00Z';

export class ModelCatalogue {
  readonly entries: readonly CatalogueEntry[];
  private readonly byName = new Map<string, CatalogueEntry>();
  readonly warnings: string[] = [];

  /** OpenAI-family upstreams in failover order: they serve `codex.availableModels`, never Claude models. */
  private readonly openai: readonly Upstream[];

  constructor(rows: readonly ModelRow[], autoIncludeBuiltins: boolean, allUpstreams: readonly Upstream[]) {
    const upstreams = allUpstreams.filter((u) => familyOf(u) === 'anthropic');
    this.openai = allUpstreams.filter((u) => familyOf(u) === 'openai');
    const entries: CatalogueEntry[] = [];
    const seen = new Set<string>();
    const add = (row: ModelRow | undefined, builtinId: string | undefined) => {
      const builtin = builtinId ? findBuiltinModel(builtinId) : undefined;
      const id = row?.id ?? builtin!.id;
      const map = row?.upstream_model ?? {};
      const candidates: RouteCandidate[] = [];
      for (const upstream of upstreams) {
        const mapped = map[upstream.name];
        if (mapped) candidates.push({ upstream, upstreamModel: mapped });
        else if (builtin) candidates.push({ upstream, upstreamModel: providerModelId(builtin, upstream.provider) });
      }
      if (candidates.length === 0) this.warnings.push(`models: "${id}" names no upstream in upstream_model, so no request for it can be served.`);
      const names = [id, ...(builtin ? [builtin.id, builtin.anthropicId, ...builtin.aliases] : [])].filter((n, i, a) => a.indexOf(n) === i);
      const entry: CatalogueEntry = {
        id,
        displayName: row?.label ?? builtin?.displayName ?? id,
        description: row?.description,
        createdAt: builtin?.createdAt ?? UNKNOWN_DATE,
        maxInputTokens: builtin?.maxInputTokens,
        names,
        candidates,
      };
      entries.push(entry);
      for (const n of names) {
        seen.add(n);
        if (!this.byName.has(n)) this.byName.set(n, entry);
      }
    };
    for (const row of rows) {
      if (seen.has(row.id)) {
        this.warnings.push(`models: "${row.id}" is listed twice; the first entry is used.`);
        continue;
      }
      add(row, findBuiltinModel(row.id) ? row.id : undefined);
    }
    if (autoIncludeBuiltins) {
      for (const b of BUILTIN_MODELS) if (!seen.has(b.id)) add(undefined, b.id);
    }
    this.entries = entries;
  }

  /** OpenAI-family upstreams that serve `model`, each with the ID it knows it by, in failover order. */
  openaiCandidates(model: string): RouteCandidate[] {
    const out: RouteCandidate[] = [];
    for (const upstream of this.openai) {
      const id = upstream.modelId ? upstream.modelId(model) : model;
      if (id) out.push({ upstream, upstreamModel: id });
    }
    return out;
  }

  get hasOpenAI(): boolean {
    return this.openai.length > 0;
  }

  /** The entry for an ID or alias a client sent. */
  find(name: string): CatalogueEntry | undefined {
    return this.byName.get(name);
  }
}

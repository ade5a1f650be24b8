/**
 * The built-in catalogue of current Claude models (`auto_include_builtin_models: true`): the
 * Anthropic ID clients send, and the ID each cloud knows it by. One data file; prices live in
 * spend/prices.ts. Bedrock IDs are US cross-region inference profiles; other regions, ARNs and
 * provisioned throughput need a curated `models:` entry.
 */

export interface BuiltinModel {
  /** Anthropic-style ID clients send (`claude-{family}-{major}-{minor}`). */
  id: string;
  displayName: string;
  /** Dated Anthropic snapshot the ID resolves to, where one exists. */
  anthropicId: string;
  bedrockId: string;
  vertexId: string;
  /** Other IDs clients may send for the same model (dated snapshots). */
  aliases: string[];
  maxInputTokens: number;
  /** `created_at` on GET /v1/models (RFC 3339). Day of release; the first of the month where only the month is known. */
  createdAt: string;
}

export const BUILTIN_MODELS: readonly BuiltinModel[] = Object.freeze([
  {
    id: 'claude-opus-4-8',
    displayName: 'Claude Opus 4.8',
    anthropicId: 'claude-opus-4-8',
    bedrockId: 'us.anthropic.claude-opus-4-8',
    vertexId: 'claude-opus-4-8',
    aliases: [],
    createdAt: '2026-09-01T00:00:00Z',
    maxInputTokens: 1_000_000,
  },
  {
    id: 'claude-opus-4-7',
    displayName: 'Claude Opus 4.7',
    anthropicId: 'claude-opus-4-7',
    bedrockId: 'us.anthropic.claude-opus-4-7',
    vertexId: 'claude-opus-4-7',
    aliases: [],
    createdAt: '2026-05-01T00:00:00Z',
    maxInputTokens: 1_000_000,
  },
  {
    id: 'claude-sonnet-5',
    displayName: 'Claude Sonnet 5',
    anthropicId: 'claude-sonnet-5',
    bedrockId: 'us.anthropic.claude-sonnet-5',
    vertexId: 'claude-sonnet-5',
    aliases: [],
    createdAt: '2026-07-01T00:00:00Z',
    maxInputTokens: 1_000_000,
  },
  {
    id: 'claude-sonnet-4-6',
    displayName: 'Claude Sonnet 4.6',
    anthropicId: 'claude-sonnet-4-6',
    bedrockId: 'us.anthropic.claude-sonnet-4-6',
    vertexId: 'claude-sonnet-4-6',
    aliases: [],
    createdAt: '2026-02-01T00:00:00Z',
    maxInputTokens: 200_000,
  },
  {
    id: 'claude-sonnet-4-5',
    displayName: 'Claude Sonnet 4.5',
    anthropicId: 'claude-sonnet-4-5-20250929',
    bedrockId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
    vertexId: 'claude-sonnet-4-5@20250929',
    aliases: ['claude-sonnet-4-5-20250929'],
    createdAt: '2025-09-29T00:00:00Z',
    maxInputTokens: 200_000,
  },
  {
    id: 'claude-haiku-4-5',
    displayName: 'Claude Haiku 4.5',
    anthropicId: 'claude-haiku-4-5-20251001',
    bedrockId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
    vertexId: 'claude-haiku-4-5@20251001',
    aliases: ['claude-haiku-4-5-20251001'],
    createdAt: '2025-10-01T00:00:00Z',
    maxInputTokens: 200_000,
  },
  {
    id: 'claude-opus-4-1',
    displayName: 'Claude Opus 4.1',
    anthropicId: 'claude-opus-4-1-20250805',
    bedrockId: 'us.anthropic.claude-opus-4-1-20250805-v1:0',
    vertexId: 'claude-opus-4-1@20250805',
    aliases: ['claude-opus-4-1-20250805'],
    createdAt: '2025-08-05T00:00:00Z',
    maxInputTokens: 200_000,
  },
]);

/** Find a built-in model by its ID or an alias. */
export function findBuiltinModel(id: string): BuiltinModel | undefined {
  return BUILTIN_MODELS.find((m) => m.id === id || m.aliases.includes(id) || m.anthropicId === id);
}

/** The ID a provider knows a built-in model by. */
export function providerModelId(model: BuiltinModel, provider: string): string {
  switch (provider) {
    case 'bedrock':
      return model.bedrockId;
    case 'vertex':
      return model.vertexId;
    default:
      return model.anthropicId;
  }
}

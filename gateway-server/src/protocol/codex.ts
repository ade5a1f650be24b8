/**
 * The `codex:` block of a policy and GET /managed/codex: what a signed-in Codex user's profile
 * and `requirements.toml` carry. `requirements` is validated against the keys Codex 0.171
 * accepts in requirements.toml, so a typo fails boot instead of reaching developers' machines.
 */
import { z } from 'zod';

const approvalPolicy = z.enum(['untrusted', 'on-failure', 'on-request', 'never']);
const sandboxMode = z.enum(['read-only', 'workspace-write', 'danger-full-access']);

const mcpServerIdentity = z.object({ command: z.string().min(1) }).strict().or(z.object({ url: z.string().url() }).strict());

/** Codex's requirements.toml (admin-enforced constraints the user cannot loosen). */
export const codexRequirementsSchema = z
  .object({
    allowed_approval_policies: z.array(approvalPolicy).min(1).optional(),
    allowed_sandbox_modes: z.array(sandboxMode).min(1).optional(),
    mcp_servers: z.record(z.string().min(1), z.object({ identity: mcpServerIdentity }).strict()).optional(),
  })
  .strict();
export type CodexRequirements = z.infer<typeof codexRequirementsSchema>;

/** Keys the gateway writes into the generated profile itself; a policy cannot override them. */
export const CODEX_RESERVED_CONFIG_KEYS = ['model_provider', 'model_providers'] as const;

export const codexPolicySchema = z
  .object({
    /** Server-side allow-list of OpenAI-family models: exact IDs, or a prefix ending in `*`. */
    availableModels: z.array(z.string().min(1)).optional(),
    /** Keys for the generated Codex profile (config.toml), e.g. model, approval_policy. */
    config: z
      .record(z.string(), z.unknown())
      .refine((c) => !CODEX_RESERVED_CONFIG_KEYS.some((k) => k in c), `model_provider and model_providers are written by the gateway; remove them`)
      .optional(),
    requirements: codexRequirementsSchema.optional(),
  })
  .strict();
export type CodexPolicy = z.infer<typeof codexPolicySchema>;

/** GET /managed/codex. */
export const managedCodexSchema = z
  .object({
    checksum: z.string(),
    availableModels: z.array(z.string()),
    config: z.record(z.string(), z.unknown()),
    requirements: codexRequirementsSchema,
  })
  .strict();
export type ManagedCodex = z.infer<typeof managedCodexSchema>;

/** Whether a `codex.availableModels` entry allows `model`. */
export function codexModelAllowed(entries: readonly string[], model: string): boolean {
  return entries.some((e) => (e.endsWith('*') ? model.startsWith(e.slice(0, -1)) : e === model));
}

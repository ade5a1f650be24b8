/**
 * GET /v1/me (Tollgate extension, docs/policy.md): who the caller is, which policy applies, the
 * models it may use and the VS Code settings its policy pushes. The extension's sidebar reads it.
 */
import { z } from 'zod';

export const meResponseSchema = z
  .object({
    sub: z.string(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    groups: z.array(z.string()),
    policy: z
      .object({
        /** False when no policy matches: no managed settings, every catalogue model. */
        matched: z.boolean(),
        /** The policy's `name:`, else `managed.policies[i]`; null when unmatched. */
        name: z.string().nullable(),
        /** Position in managed.policies; null when unmatched or synthesised. */
        index: z.number().int().nullable(),
      })
      .passthrough(),
    available_models: z.array(z.object({ id: z.string(), display_name: z.string() }).passthrough()),
    /** The policy's merged `vscode:` block: VS Code setting ID → value, applied to the workspace. */
    vscode_settings: z.record(z.string(), z.unknown()),
    /** Checksum of the settings GET /managed/settings serves this caller; null when it answers 404. */
    managed_settings_checksum: z.string().nullable(),
  })
  .passthrough();
export type MeResponse = z.infer<typeof meResponseSchema>;

/**
 * GET /v1/me/requests?limit=N (Tollgate extension): the caller's own latest inference requests as
 * the audit log recorded them, newest first, with what each was charged. The sidebar shows the
 * exact cost of each request with it, whichever client (editor, terminal, CI) sent it.
 */
export const myRequestsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

export const myRequestSchema = z
  .object({
    request_id: z.string().nullable(),
    at: z.string(),
    model: z.string().nullable(),
    status: z.number().int().nullable(),
    outcome: z.string().nullable(),
    input_tokens: z.number().nullable(),
    output_tokens: z.number().nullable(),
    /** Micro-dollars charged (0 for a failed request); null when spend limits are off. */
    cost_micros: z.number().nullable(),
  })
  .passthrough();
export type MyRequest = z.infer<typeof myRequestSchema>;

export const myRequestsResponseSchema = z.object({ data: z.array(myRequestSchema) }).passthrough();
export type MyRequestsResponse = z.infer<typeof myRequestsResponseSchema>;

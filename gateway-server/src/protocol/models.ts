/**
 * GET /v1/models (gateway-protocol.md §2.8): the Anthropic models-list shape, filtered to the
 * caller's policy. Pure zod, bundled by the extension and webview too.
 */
import { z } from 'zod';

export const modelInfoSchema = z
  .object({
    type: z.literal('model'),
    id: z.string(),
    display_name: z.string(),
    created_at: z.string(),
    max_input_tokens: z.number().int().positive().optional(),
  })
  .passthrough();
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const modelsListSchema = z
  .object({
    data: z.array(modelInfoSchema),
    has_more: z.boolean(),
    first_id: z.string().nullable(),
    last_id: z.string().nullable(),
  })
  .passthrough();
export type ModelsList = z.infer<typeof modelsListSchema>;

/** Query of GET /v1/models: Anthropic's paging (`limit` 1-1000, default 20; `after_id` / `before_id`). */
export const modelsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  after_id: z.string().optional(),
  before_id: z.string().optional(),
});

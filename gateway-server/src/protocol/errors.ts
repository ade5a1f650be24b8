/** The Anthropic error envelope as clients parse it. */
import { z } from 'zod';

export const anthropicErrorSchema = z
  .object({
    type: z.literal('error'),
    error: z.object({ type: z.string(), message: z.string() }).passthrough(),
    request_id: z.string().optional(),
  })
  .passthrough();
export type AnthropicError = z.infer<typeof anthropicErrorSchema>;

/**
 * GET /api/oauth/usage (gateway-protocol.md §2.10) and the usage-limit headers (§4).
 * Amounts are USD cents as JSON numbers; utilisation is whole percent here, a fraction in headers.
 */
import { z } from 'zod';

export const periodSchema = z.enum(['daily', 'weekly', 'monthly']);
export type Period = z.infer<typeof periodSchema>;

const periodUsage = z.object({ limit: z.number().nullable(), used_credits: z.number(), utilization: z.number().nullable() }).passthrough();

export const usageResponseSchema = z
  .object({
    extra_usage: z
      .object({
        is_enabled: z.boolean(),
        monthly_limit: z.number().nullable(),
        used_credits: z.number(),
        utilization: z.number().nullable(),
        currency: z.string(),
        daily: periodUsage.optional(),
        weekly: periodUsage.optional(),
        monthly: periodUsage.optional(),
      })
      .passthrough(),
    limits: z.array(
      z
        .object({
          kind: z.string(),
          group: z.string(),
          percent: z.number(),
          resets_at: z.string(),
          severity: z.string(),
          is_active: z.boolean(),
        })
        .passthrough(),
    ),
  })
  .passthrough();
export type UsageResponse = z.infer<typeof usageResponseSchema>;

export const USAGE_HEADER_PREFIX = 'anthropic-ratelimit-unified-';

/** One row of `limits` in the /api/oauth/usage body. */
export const usageLimitRowSchema = z.object({
  kind: z.literal('spend'),
  group: periodSchema,
  percent: z.number().int().min(0),
  resets_at: z.string(),
  severity: z.enum(['normal', 'warning', 'critical']),
  is_active: z.boolean(),
});
export type UsageLimitRow = z.infer<typeof usageLimitRowSchema>;

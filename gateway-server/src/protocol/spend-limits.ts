/**
 * Admin API for spend limits, shaped like Anthropic's Admin API (claude-apps-gateway-spec.md §6).
 * Amounts are whole USD cents as strings, or null for unlimited.
 */
import { z } from 'zod';
import { periodSchema } from './usage';

export const spendScopeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('organization') }).strict(),
  z.object({ type: z.literal('rbac_group'), rbac_group_id: z.string().min(1).max(256) }).strict(),
  z.object({ type: z.literal('user'), user_id: z.string().min(1).max(256) }).strict(),
]);
export type SpendScope = z.infer<typeof spendScopeSchema>;

export const upsertSpendLimitSchema = z
  .object({
    scope: spendScopeSchema,
    amount: z
      .string()
      .regex(/^(0|[1-9][0-9]{0,14})$/, 'amount must be a whole number of USD cents as a string, e.g. "50000" for $500, or null')
      .nullable(),
    period: periodSchema,
    currency: z.string().optional(),
    is_enabled: z.boolean().optional(),
  })
  .strict();

export const spendLimitSchema = z.object({
  type: z.literal('spend_limit'),
  id: z.string(),
  scope: spendScopeSchema,
  amount: z.string().nullable(),
  currency: z.literal('USD'),
  period: periodSchema,
  is_enabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type SpendLimit = z.infer<typeof spendLimitSchema>;

const limitParam = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt);
const oneOrMany = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));

export const listSpendLimitsQuery = z
  .object({
    limit: limitParam(1000, 20),
    after_id: z.string().optional(),
    before_id: z.string().optional(),
    scope_type: z.enum(['organization', 'rbac_group', 'user']).optional(),
  })
  .strict();

export const effectiveQuery = z
  .object({
    'user_ids[]': oneOrMany.optional(),
    user_ids: oneOrMany.optional(),
    'period[]': z.union([periodSchema, z.array(periodSchema)]).optional(),
    period: z.union([periodSchema, z.array(periodSchema)]).optional(),
    sort: z.enum(['spend_desc', 'spend_asc', 'user_id']).default('spend_desc'),
    q: z.string().max(256).optional(),
    limit: limitParam(1000, 20),
    page: z.string().max(64).optional(),
  })
  .strict();

export const auditQuery = z
  .object({
    limit: limitParam(1000, 100),
    after_id: z.coerce.number().int().min(1).optional(),
  })
  .strict();

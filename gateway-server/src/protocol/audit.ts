/**
 * GET /v1/organizations/audit: query parameters and the shape of one audit entry, as the admin
 * API returns it (JSON page or JSONL export). Money is integer micro-dollars as a decimal string.
 */
import { z } from 'zod';

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time, e.g. 2026-11-01T00:00:00Z');

export const auditQuerySchema = z
  .object({
    /** OIDC subject. */
    user_id: z.string().min(1).max(512).optional(),
    email: z.string().min(1).max(512).optional(),
    /** e.g. ok, denied_policy, blocked_spend, upstream_error, client_aborted, denied, error. */
    outcome: z.string().min(1).max(64).optional(),
    /** Event name, e.g. inference, session.mint, admin.limit.upsert. */
    event: z.string().min(1).max(128).optional(),
    /** Model as recorded (the client's ID), e.g. claude-sonnet-4-6. */
    model: z.string().min(1).max(256).optional(),
    /** Upstream name from the configuration. */
    upstream: z.string().min(1).max(128).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    /** Entries are listed newest first; pass the last id of a page to get the next one. */
    after_id: z.string().regex(/^\d{1,19}$/, 'must be a numeric audit entry id').optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    format: z.enum(['json', 'jsonl']).optional(),
  })
  .strict();
export type AuditQuery = z.infer<typeof auditQuerySchema>;

export const auditEntrySchema = z.object({
  type: z.literal('audit_entry'),
  id: z.string(),
  at: z.string(),
  event: z.string(),
  request_id: z.string().nullable(),
  principal: z.object({ sub: z.string(), email: z.string().nullable(), groups: z.array(z.string()).nullable() }).nullable(),
  actor: z.string().nullable(),
  surface: z.string().nullable(),
  session_id: z.string().nullable(),
  model: z.string().nullable(),
  upstream: z.string().nullable(),
  status: z.number().nullable(),
  outcome: z.string(),
  reason: z.string().nullable(),
  tokens: z
    .object({ input: z.number(), output: z.number(), cache_read: z.number(), cache_creation: z.number() })
    .nullable(),
  cost_micros: z.string().nullable(),
  latency_ms: z.number().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  chain: z.string(),
  seq: z.string(),
  prev_hash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

export const auditPageSchema = z.object({
  data: z.array(auditEntrySchema),
  has_more: z.boolean(),
  first_id: z.string().nullable(),
  last_id: z.string().nullable(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

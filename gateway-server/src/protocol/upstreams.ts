/**
 * GET /v1/organizations/upstreams (Tollgate extension, admin read): the configured upstreams in
 * failover order and each one's circuit-breaker state. No credentials, no URLs.
 */
import { z } from 'zod';

export const upstreamStatusSchema = z
  .object({
    name: z.string(),
    provider: z.string(),
    circuit: z.object({
      state: z.enum(['closed', 'open', 'half_open']),
      consecutive_failures: z.number().int().min(0),
      /** ISO time the breaker last opened, while it is open or half-open. */
      opened_at: z.string().nullable(),
    }),
  })
  .strict();
export type UpstreamStatus = z.infer<typeof upstreamStatusSchema>;

export const upstreamsListSchema = z.object({ data: z.array(upstreamStatusSchema) }).strict();
export type UpstreamsList = z.infer<typeof upstreamsListSchema>;

/**
 * GET /v1/organizations/reports/{spend|usage}: query parameters and the report shape. Money is
 * integer micro-dollars as a decimal string (`cost_micros`) and exact US dollars as a decimal
 * string (`cost_usd`); token counts are decimal strings too (they outgrow 2^53 in a year at scale).
 */
import { z } from 'zod';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `YYYY-MM-DD` (midnight in `tz`) or an ISO 8601 time with a zone (`Z` or an offset). */
const when = z
  .string()
  .max(40)
  .refine((s) => DATE.test(s) || (/(Z|[+-]\d{2}:?\d{2})$/i.test(s) && !Number.isNaN(Date.parse(s))), 'must be a date (YYYY-MM-DD, midnight in tz) or an ISO 8601 time with a zone, e.g. 2026-11-01T09:30:00Z');

const timeZone = z
  .string()
  .min(1)
  .max(64)
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone, e.g. Europe/Berlin or UTC');

export const REPORT_GROUPINGS = ['user', 'group', 'model', 'upstream'] as const;
export const REPORT_BUCKETS = ['day', 'week', 'month', 'none'] as const;

export const reportQuerySchema = z
  .object({
    from: when,
    to: when,
    group_by: z.enum(REPORT_GROUPINGS).default('user'),
    bucket: z.enum(REPORT_BUCKETS).default('day'),
    tz: timeZone.default('UTC'),
    format: z.enum(['json', 'csv']).optional(),
  })
  .strict();
export type ReportQuery = z.infer<typeof reportQuerySchema>;
export type ReportKind = 'spend' | 'usage';

/** One bucket × key. `bucket` is the local start date in `tz` (`YYYY-MM-DD`), null when `bucket=none`; `key` null for no group. */
export interface ReportRow {
  bucket: string | null;
  key: string | null;
  requests: string;
  errors: string;
  input_tokens: string;
  output_tokens: string;
  cache_write_tokens: string;
  cache_read_tokens: string;
  cost_micros: string;
  cost_usd: string;
}

export interface Report {
  type: 'report';
  report: ReportKind;
  from: string;
  to: string;
  tz: string;
  bucket: ReportQuery['bucket'];
  group_by: ReportQuery['group_by'];
  data: ReportRow[];
  totals: Omit<ReportRow, 'bucket' | 'key'>;
}

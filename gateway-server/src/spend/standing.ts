/**
 * A caller's standing against their caps, and how it is told: the usage-limit headers and the
 * 429 of gateway-protocol.md §4, and the /api/oauth/usage body of §2.10.
 */
import { formatReset, type Period, type PeriodWindow } from './periods';
import type { UsageLimitRow } from '../protocol/usage';

export const MICROS_PER_CENT = 10_000n;
const P = 'anthropic-ratelimit-unified-';

export interface CapStanding {
  window: PeriodWindow;
  /** Whole cents; null = unlimited. */
  capCents: bigint | null;
  /** Settled spend this period, micro-dollars. */
  spentMicros: bigint;
}

const unix = (d: Date) => String(Math.floor(d.getTime() / 1000));

/** Utilisation as a fraction (may exceed 1 after an overrun). */
export function utilisation(s: CapStanding): number {
  if (s.capCents === null) return 0;
  const cap = s.capCents * MICROS_PER_CENT;
  if (cap === 0n) return 1;
  return Number((s.spentMicros * 1_000_000n) / cap) / 1_000_000;
}

/** The fullest cap (ties: the one resetting last); undefined when uncapped. */
export function fullest(standings: readonly CapStanding[]): CapStanding | undefined {
  let best: CapStanding | undefined;
  for (const s of standings) {
    if (s.capCents === null) continue;
    if (!best || utilisation(s) > utilisation(best) || (utilisation(s) === utilisation(best) && s.window.resetsAt > best.window.resetsAt)) best = s;
  }
  return best;
}

/** The usage-limit headers (gateway-protocol.md §4), listed with their meaning on GET /protocol. */
export const USAGE_HEADERS = {
  status: `${P}status`,
  claim: `${P}representative-claim`,
  overageStatus: `${P}overage-status`,
  utilization: `${P}overage-utilization`,
  reset: `${P}reset`,
  overageReset: `${P}overage-reset`,
  threshold: `${P}overage-surpassed-threshold`,
  period: `${P}overage-period`,
  disabledReason: `${P}overage-disabled-reason`,
} as const;

/** Allowed / Warning headers for a successful response; none for an uncapped caller. Every capped request builds these. */
export function allowedHeaders(standings: readonly CapStanding[]): Record<string, string> {
  let s: CapStanding | undefined;
  let u = 0;
  for (const c of standings) {
    if (c.capCents === null) continue;
    const cu = utilisation(c);
    if (!s || cu > u || (cu === u && c.window.resetsAt > s.window.resetsAt)) {
      s = c;
      u = cu;
    }
  }
  if (!s) return {};
  const shown = Math.min(Math.floor(u * 100) / 100, 0.99);
  const threshold = u > 0.95 ? '0.95' : u > 0.75 ? '0.75' : undefined;
  const status = threshold ? 'allowed_warning' : 'allowed';
  const reset = unix(s.window.resetsAt);
  const h: Record<string, string> = {
    [USAGE_HEADERS.status]: status,
    [USAGE_HEADERS.claim]: 'overage',
    [USAGE_HEADERS.overageStatus]: status,
    [USAGE_HEADERS.utilization]: shown.toFixed(2),
    [USAGE_HEADERS.reset]: reset,
    [USAGE_HEADERS.overageReset]: reset,
  };
  if (threshold) h[USAGE_HEADERS.threshold] = threshold;
  return h;
}

/** Headers and message of the 429 for the caps that refused (the one resetting last is named). */
export function rejection(refused: readonly CapStanding[], nowMs: number, blockedMessage: string, detail?: string): { message: string; headers: Record<string, string> } {
  const s = [...refused].sort((a, b) => b.window.resetsAt.getTime() - a.window.resetsAt.getTime())[0]!;
  const retryAfter = Math.max(1, Math.ceil((s.window.resetsAt.getTime() - nowMs) / 1000));
  const tail = blockedMessage.trim() || 'ask your gateway administrator to raise your spend limit, or wait for the reset';
  return {
    // The official shape first (clients and scripts may read it), then why, near a hard cap.
    message: `spend limit reached (${s.window.period}; resets ${formatReset(s.window.resetsAt)}) ${tail}${detail ? ` (${detail})` : ''}`,
    headers: {
      [USAGE_HEADERS.status]: 'rejected',
      [USAGE_HEADERS.utilization]: '1',
      [USAGE_HEADERS.threshold]: '1',
      [USAGE_HEADERS.reset]: unix(s.window.resetsAt),
      [USAGE_HEADERS.overageReset]: unix(s.window.resetsAt),
      [USAGE_HEADERS.period]: s.window.period,
      [USAGE_HEADERS.disabledReason]: 'org_spend_cap_reached',
      'retry-after': String(retryAfter),
    },
  };
}

/** Micro-dollars as dollars for people: cents, or a tenth of a cent below a dollar's tenth. */
export function formatUsd(micros: bigint): string {
  const v = Number(micros) / 1_000_000;
  return `$${v < 0.1 ? v.toFixed(4) : v.toFixed(2)}`;
}

export const FETCH_ERROR_HEADERS: Record<string, string> = { [USAGE_HEADERS.disabledReason]: 'fetch_error' };

const cents = (micros: bigint) => Number(micros / MICROS_PER_CENT);
const percent = (s: CapStanding) => Math.floor(utilisation(s) * 100);
const severity = (s: CapStanding): UsageLimitRow['severity'] => (utilisation(s) >= 1 ? 'critical' : utilisation(s) > 0.75 ? 'warning' : 'normal');

/** The /api/oauth/usage body (§2.10): the cap the headers describe, one `limits` row per cap. */
export function usageBody(standings: readonly CapStanding[]) {
  const by = (p: Period) => standings.find((s) => s.window.period === p)!;
  const active = fullest(standings);
  if (!active) {
    return {
      extra_usage: {
        is_enabled: true,
        monthly_limit: null,
        used_credits: cents(by('monthly').spentMicros),
        utilization: null,
        currency: 'USD',
        daily: { limit: null, used_credits: cents(by('daily').spentMicros), utilization: null },
        weekly: { limit: null, used_credits: cents(by('weekly').spentMicros), utilization: null },
      },
      limits: [] as UsageLimitRow[],
    };
  }
  const limitRow = (s: CapStanding): UsageLimitRow => ({
    kind: 'spend',
    group: s.window.period,
    percent: percent(s),
    resets_at: s.window.resetsAt.toISOString(),
    severity: severity(s),
    is_active: s === active,
  });
  return {
    extra_usage: {
      is_enabled: true,
      monthly_limit: Number(active.capCents),
      used_credits: cents(active.spentMicros),
      utilization: percent(active),
      currency: 'USD',
    },
    limits: standings.filter((s) => s.capCents !== null).map(limitRow),
  };
}

/**
 * Budget text and severity for the status bar and sidebar, from `/api/oauth/usage` (§2.10)
 * and the live usage-limit headers (§4). Pure: no `vscode`.
 */
import type { UsageResponse } from '../../../gateway-server/src/protocol/usage';
import { USAGE_HEADER_PREFIX } from '../../../gateway-server/src/protocol/usage';
import { localTime } from './time';
import type { CapView } from '../../../gateway-server/src/protocol/webview';

export type Severity = 'ok' | 'warning' | 'error' | 'offline' | 'signedOut';
export interface StatusView {
  text: string;
  severity: Severity;
  tooltip: string;
}

export const PERIOD_WORD = { daily: 'day', weekly: 'week', monthly: 'month' } as const;
type Period = keyof typeof PERIOD_WORD;

export function dollars(cents: number): string {
  const d = cents / 100;
  return Number.isInteger(d) ? `$${d}` : `$${d.toFixed(2)}`;
}

/** Every cap in the usage response, one per period, tightest first. */
export function capsFromUsage(usage: UsageResponse): CapView[] {
  const eu = usage.extra_usage;
  const caps: CapView[] = [];
  for (const row of usage.limits) {
    const period = (['daily', 'weekly', 'monthly'] as const).find((p) => p === row.group);
    if (!period) continue;
    const level = eu[period];
    const activeAmounts = row.is_active ? { limit: eu.monthly_limit, used: eu.used_credits } : undefined;
    const limitCents = level?.limit ?? activeAmounts?.limit ?? null;
    const usedCents = level?.used_credits ?? activeAmounts?.used ?? 0;
    caps.push({ period, limitCents, usedCents, percent: row.percent, resetsAt: row.resets_at, active: row.is_active });
  }
  return caps.sort((a, b) => (b.percent ?? 0) - (a.percent ?? 0));
}

export function formatReset(iso: string | null, now = new Date()): string {
  return localTime(iso, now);
}

export function severityFor(percent: number | null, blocked = false): Severity {
  if (blocked || (percent ?? 0) > 95) return 'error';
  if ((percent ?? 0) > 75) return 'warning';
  return 'ok';
}

export function statusFromUsage(usage: UsageResponse, now = new Date()): StatusView {
  const caps = capsFromUsage(usage).filter((c) => c.limitCents !== null);
  const tight = caps[0];
  if (!tight) {
    const used = usage.extra_usage.daily?.used_credits;
    return {
      text: 'no cap',
      severity: 'ok',
      tooltip: `Tollgate: no spend cap applies to you.${used !== undefined ? ` Spent today: ${dollars(used)}.` : ''} Click for the Tollgate menu.`,
    };
  }
  const blocked = (tight.percent ?? 0) >= 100;
  const severity = severityFor(tight.percent, blocked);
  const reset = formatReset(tight.resetsAt, now);
  const lines = caps.map((c) => `${PERIOD_WORD[c.period as Period]}: ${dollars(c.usedCents)} of ${dollars(c.limitCents!)} (${c.percent ?? 0}%), resets ${formatReset(c.resetsAt, now)}`);
  return {
    text: `${dollars(tight.usedCents)} / ${dollars(tight.limitCents!)} · ${PERIOD_WORD[tight.period as Period]}${blocked ? ' · over cap' : ''}`,
    severity,
    tooltip: [blocked ? `Spend limit reached: requests are blocked until ${reset}.` : `Tollgate spend, tightest cap ${tight.percent ?? 0}% used.`, ...lines, 'Click for the Tollgate menu.'].join('\n'),
  };
}

export interface HeaderSignal {
  status: 'allowed' | 'allowed_warning' | 'rejected';
  utilization: number | null;
  resetAt: Date | null;
  period: string | null;
}

/** The live signal on a proxied response; undefined when the gateway sent none (uncapped). */
export function signalFromHeaders(headers: Record<string, string | string[] | undefined>): HeaderSignal | undefined {
  const h = (name: string) => {
    const v = headers[USAGE_HEADER_PREFIX + name];
    return Array.isArray(v) ? v[0] : v;
  };
  const status = h('status');
  if (status !== 'allowed' && status !== 'allowed_warning' && status !== 'rejected') return undefined;
  const util = Number(h('overage-utilization'));
  const reset = Number(h('overage-reset') ?? h('reset'));
  return {
    status,
    utilization: Number.isFinite(util) && h('overage-utilization') !== undefined ? util : null,
    resetAt: Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000) : null,
    period: h('overage-period') ?? null,
  };
}

/** Overlay a live header signal on the last fetched view (the next usage fetch replaces it). */
export function applySignal(view: StatusView, signal: HeaderSignal, now = new Date()): StatusView {
  if (signal.status === 'rejected') {
    const reset = formatReset(signal.resetAt?.toISOString() ?? null, now);
    const text = view.text.endsWith('over cap') ? view.text : view.text.startsWith('$') ? `${view.text} · over cap` : 'over cap';
    return { text, severity: 'error', tooltip: `Spend limit reached: requests are blocked${reset ? ` until ${reset}` : ''}.\nClick for the Tollgate menu.` };
  }
  const pct = signal.utilization === null ? null : Math.round(signal.utilization * 100);
  const severity = signal.status === 'allowed_warning' ? (pct !== null && pct > 95 ? 'error' : 'warning') : severityFor(pct);
  return { ...view, severity: severity === 'ok' && view.severity !== 'offline' && view.severity !== 'signedOut' ? view.severity : severity };
}

export const SIGNED_OUT: StatusView = { text: 'Sign in', severity: 'signedOut', tooltip: 'Tollgate: not signed in. Click to sign in or choose your gateway.' };

export function offline(gatewayUrl: string, since: Date): StatusView {
  return { text: 'offline', severity: 'offline', tooltip: `Tollgate: cannot reach ${gatewayUrl} (since ${localTime(since, new Date())}). Retrying in the background.` };
}

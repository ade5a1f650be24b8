/**
 * UTC calendar periods: daily at 00:00, weekly from Monday 00:00, monthly from the 1st. A period
 * is identified by a bucket key (`d:2026-08-07`, `w:2026-08-03`, `m:2026-08`) computed from the
 * injected clock, so counters roll over without any job.
 */
export type Period = 'daily' | 'weekly' | 'monthly';
export const PERIODS: readonly Period[] = ['daily', 'weekly', 'monthly'];

export interface PeriodWindow {
  period: Period;
  bucket: string;
  start: Date;
  /** First instant of the next period: when the cap resets. */
  resetsAt: Date;
}

const DAY = 86_400_000;
const ymd = (d: Date) => d.toISOString().slice(0, 10);

export function periodWindow(period: Period, nowMs: number): PeriodWindow {
  const now = new Date(nowMs);
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  if (period === 'daily') return { period, bucket: `d:${ymd(new Date(day))}`, start: new Date(day), resetsAt: new Date(day + DAY) };
  if (period === 'weekly') {
    const sinceMonday = (now.getUTCDay() + 6) % 7;
    const start = day - sinceMonday * DAY;
    return { period, bucket: `w:${ymd(new Date(start))}`, start: new Date(start), resetsAt: new Date(start + 7 * DAY) };
  }
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return { period, bucket: `m:${ymd(new Date(start)).slice(0, 7)}`, start: new Date(start), resetsAt: new Date(next) };
}

let memo: { day: number; windows: PeriodWindow[] } | undefined;

/** The three windows containing `nowMs`; computed once per UTC day (every capped request asks). */
export function periodWindows(nowMs: number): PeriodWindow[] {
  const day = Math.floor(nowMs / DAY);
  if (memo?.day !== day) memo = { day, windows: PERIODS.map((p) => periodWindow(p, nowMs)) };
  return memo.windows;
}

/** `2026-08-08 00:00 UTC`, as in the official 429 message. */
export function formatReset(d: Date): string {
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
}

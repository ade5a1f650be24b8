/**
 * One way to show a time everywhere (status bar, notifications, sidebar): the developer's local
 * time with the zone named ("Nov 28 01:00 CET", or "01:00 CET" today). Pure: no `vscode`, no DOM,
 * so the webview bundle uses it too.
 */
export function localTime(when: string | Date | null, now = new Date(), timeZone?: string): string {
  if (!when) return '';
  const d = typeof when === 'string' ? new Date(when) : when;
  if (Number.isNaN(d.getTime())) return '';
  const fmt = (x: Date) => {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' }).formatToParts(x);
    const p = (t: Intl.DateTimeFormatPartTypes) => parts.find((q) => q.type === t)?.value ?? '';
    return { day: `${p('month')} ${p('day')}`, time: `${p('hour')}:${p('minute')}`, zone: p('timeZoneName') };
  };
  const a = fmt(d);
  const sameDay = a.day === fmt(now).day;
  return sameDay ? `${a.time} ${a.zone}` : `${a.day} ${a.time} ${a.zone}`;
}

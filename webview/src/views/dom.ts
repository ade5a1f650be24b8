import { localTime } from '../../../extension/src/status/time';
/** A tiny element builder: text always goes through textContent, never innerHTML. */
export type Child = Node | string | null | undefined | false;

export function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

export const icon = (name: string, label?: string) => h('span', { class: `codicon codicon-${name}`, ...(label ? { 'aria-label': label, role: 'img' } : { 'aria-hidden': 'true' }) });

export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return h('section', { 'aria-labelledby': `${id}-title`, id }, h('h2', { id: `${id}-title` }, title), ...children);
}

export const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;

/** A request's charge: cents precision from a cent up, four decimals below (a short reply costs fractions of a cent). */
export const microDollars = (micros: number) => (micros >= 10_000 ? `$${(micros / 1_000_000).toFixed(2)}` : micros === 0 ? '$0' : `$${(micros / 1_000_000).toFixed(4)}`);

/** The same local-time-with-zone format as the status bar and notifications. */
export const when = (iso: string | null): string => localTime(iso);

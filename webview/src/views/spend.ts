import type { SidebarState } from '../../../gateway-server/src/protocol/webview';
import { dollars, h, section, when } from './dom';

const WORD = { daily: 'Today', weekly: 'This week', monthly: 'This month' } as const;

export function spendView(s: SidebarState): HTMLElement {
  const caps = s.caps.filter((c) => c.limitCents !== null);
  return section(
    'Spend',
    'spend',
    h('p', { id: 'status-text', class: `status-${s.status.severity}` }, s.status.text),
    s.block
      ? h(
          'div',
          { id: 'block', class: 'block' },
          h('strong', {}, s.block.kind === 'overCap' ? 'Over cap: ' : 'Blocked: '),
          s.block.reason,
          s.block.until ? ` Lifts at ${when(s.block.until)}.` : '',
          h('div', { class: 'muted' }, `Last refused request: ${when(s.block.at)} (HTTP ${s.block.status}).`),
        )
      : null,
    caps.length === 0
      ? h('p', { class: 'muted', id: 'no-cap' }, s.spend ? `No spend cap. Spent today: ${dollars(s.spend.usedCents)}.` : 'No spend cap applies.')
      : h(
          'ul',
          { class: 'caps', id: 'caps' },
          ...caps.map((c) => {
            const pct = Math.max(0, Math.min(100, c.percent ?? 0));
            const cls = (c.percent ?? 0) > 95 ? 'bar error' : (c.percent ?? 0) > 75 ? 'bar warning' : 'bar';
            return h(
              'li',
              {},
              h('div', { class: 'cap-head' }, h('span', {}, WORD[c.period]), h('span', {}, `${dollars(c.usedCents)} / ${dollars(c.limitCents!)}`)),
              h('div', { class: cls, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct), 'aria-label': `${WORD[c.period]} spend ${pct}%` }, h('div', { class: 'fill' })),
              h('div', { class: 'muted' }, `${c.percent ?? 0}% · resets ${when(c.resetsAt)}`),
            );
          }),
        ),
  );
}

/** Widths are set through CSSOM after render: the CSP forbids inline style attributes. */
export function sizeBars(root: HTMLElement): void {
  root.querySelectorAll<HTMLElement>('[role=progressbar]').forEach((bar) => {
    const fill = bar.querySelector<HTMLElement>('.fill');
    if (fill) fill.style.width = `${bar.getAttribute('aria-valuenow') ?? '0'}%`;
  });
}

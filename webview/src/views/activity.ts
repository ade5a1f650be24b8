import type { SidebarState } from '../../../gateway-server/src/protocol/webview';
import { h, icon, microDollars, section, when } from './dom';

export function recentView(s: SidebarState): HTMLElement {
  return section(
    'Recent requests',
    'recent',
    s.proxy.url ? h('p', { class: 'muted' }, 'Agents in this window use the local proxy ', h('code', {}, s.proxy.url), '.') : null,
    s.recent.length === 0
      ? h('p', { class: 'muted' }, 'No requests through this window yet.')
      : h(
          'table',
          { id: 'recent-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Model'), h('th', { scope: 'col' }, 'Tokens'), h('th', { scope: 'col' }, 'Cost'), h('th', { scope: 'col' }, 'Status'))),
          h(
            'tbody',
            {},
            ...s.recent.map((r) =>
              h('tr', { title: when(r.at) }, h('td', {}, r.model), h('td', {}, `${r.inputTokens} in / ${r.outputTokens} out`), h('td', {}, r.costMicros === null ? '—' : microDollars(r.costMicros)), h('td', { class: r.status < 400 ? '' : 'error' }, String(r.status))),
            ),
          ),
        ),
  );
}

export function healthView(s: SidebarState, run: (c: 'openGatewayStatus' | 'refresh') => void): HTMLElement {
  const ok = s.health.reachable && s.health.ready !== false;
  const status = h('button', { type: 'button', class: 'secondary', id: 'gateway-status' }, icon('server'), ' Gateway status');
  status.addEventListener('click', () => run('openGatewayStatus'));
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'refresh' }, icon('refresh'), ' Refresh policy');
  refresh.addEventListener('click', () => run('refresh'));
  return section(
    'Gateway health',
    'health',
    h('p', { id: 'health-text' }, icon(ok ? 'pass' : 'error', ok ? 'healthy' : 'problem'), ' ', s.health.detail),
    h('div', { class: 'row' }, refresh, status),
  );
}

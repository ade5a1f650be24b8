import type { SidebarState } from '../../../gateway-server/src/protocol/webview';
import { h, section } from './dom';

export function policyView(s: SidebarState): HTMLElement {
  if (!s.policy.available) return section('Policy', 'policy', h('p', { class: 'muted' }, 'This gateway does not describe your policy (/v1/me is not offered).'));
  return section(
    'Policy',
    'policy',
    h('p', { id: 'policy-name' }, 'Matched policy: ', h('strong', {}, s.policy.name ?? 'default')),
    h('h3', {}, 'Allowed models'),
    s.policy.models.length ? h('ul', { id: 'models', class: 'tags' }, ...s.policy.models.map((m) => h('li', {}, m))) : h('p', { class: 'muted' }, 'All models the gateway offers.'),
    s.managedSettings.appliedKeys.length
      ? h('details', {}, h('summary', {}, `Managed settings applied (${s.managedSettings.appliedKeys.length})`), h('ul', {}, ...s.managedSettings.appliedKeys.map((k) => h('li', {}, k))))
      : null,
  );
}

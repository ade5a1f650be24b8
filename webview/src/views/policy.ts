import type { PolicyRule, SidebarState } from '../../../gateway-server/src/protocol/webview';
import { h, section } from './dom';

function ruleList(id: string, title: string, rules: PolicyRule[], source: string): HTMLElement[] {
  if (!rules.length) return [];
  // Values wrap rather than clip (style.css .kv): a long deny list is read whole.
  return [
    h('h3', {}, title),
    h(
      'ul',
      { class: 'kv', id },
      ...rules.map((r) => h('li', {}, h('code', { class: 'key' }, r.key), ' = ', h('code', { class: 'value' }, r.value), h('div', { class: 'muted source' }, source))),
    ),
  ];
}

export function policyView(s: SidebarState): HTMLElement {
  if (!s.policy.available) return section('Policy', 'policy', h('p', { class: 'muted' }, 'This gateway does not describe your policy (/v1/me is not offered).'));
  const name = s.policy.name;
  const source = name ? `From policy ${name}, managed by your organisation` : 'Managed by your organisation';
  const rules = s.managedSettings.rules;
  return section(
    'Policy',
    'policy',
    name ? h('p', { id: 'policy-name' }, 'Policy: ', h('strong', {}, name), h('span', { class: 'muted' }, ' (managed by your organisation)')) : h('p', { id: 'policy-name', class: 'muted' }, 'No policy applies to you on this gateway.'),
    h('h3', {}, 'Allowed models'),
    s.policy.models.length ? h('ul', { id: 'models', class: 'tags' }, ...s.policy.models.map((m) => h('li', {}, m))) : h('p', { class: 'muted' }, 'All models the gateway offers.'),
    ...ruleList('claude-rules', 'Claude Code settings', rules.filter((r) => r.target === 'claude'), source),
    ...ruleList('vscode-rules', 'VS Code settings changed', rules.filter((r) => r.target === 'vscode'), source),
  );
}

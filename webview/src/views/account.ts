import type { SidebarState } from '../../../gateway-server/src/protocol/webview';
import { h, icon, section } from './dom';

export function accountView(s: SidebarState, run: (c: 'signIn' | 'signOut' | 'copySignInCode') => void): HTMLElement {
  if (!s.signedIn && s.signIn) {
    const copy = h('button', { type: 'button', id: 'copy-code' }, icon('copy'), ' Copy code');
    copy.addEventListener('click', () => run('copySignInCode'));
    return section(
      'Account',
      'account',
      h('p', { id: 'signing-in' }, icon('loading'), ' Signing in to ', s.gatewayUrl, '…'),
      h('p', {}, 'Confirm the code ', h('code', { id: 'user-code' }, s.signIn.userCode), ' on the page that opened in your browser (or open ', h('code', {}, s.signIn.verificationUri), ' and enter it).'),
      copy,
    );
  }
  if (!s.signedIn || !s.account) {
    const btn = h('button', { type: 'button', id: 'sign-in' }, icon('sign-in'), ' Sign in');
    btn.addEventListener('click', () => run('signIn'));
    return section('Account', 'account', h('p', {}, `Not signed in to ${s.gatewayUrl || 'a gateway'}.`), btn);
  }
  const a = s.account;
  const out = h('button', { type: 'button', id: 'sign-out', class: 'secondary' }, icon('sign-out'), ' Sign out');
  out.addEventListener('click', () => run('signOut'));
  return section(
    'Account',
    'account',
    h('p', { id: 'identity' }, icon('account'), ' ', a.name ?? a.email ?? a.id, a.email && a.name ? h('span', { class: 'muted' }, ` ${a.email}`) : null),
    h('p', { class: 'muted' }, 'Gateway: ', s.gatewayUrl),
    a.groups.length ? h('ul', { class: 'tags', 'aria-label': 'Groups', id: 'groups' }, ...a.groups.map((g) => h('li', {}, g))) : h('p', { class: 'muted' }, 'No groups'),
    out,
  );
}

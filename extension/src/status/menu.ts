/**
 * What the status-bar menu lists (like Copilot's status menu): the usage with each cap's reset,
 * then the actions that fit the current state. Pure: no `vscode`; status-menu.ts shows it.
 */
import type { CapView } from '../../../gateway-server/src/protocol/webview';
import { dollars, formatReset, PERIOD_WORD, type StatusView } from './format';

export type MenuAction = 'signIn' | 'openSidebar' | 'refreshPolicy' | 'switchGateway' | 'signOut' | 'openGatewayStatus';

export interface MenuEntry {
  label: string;
  description?: string;
  detail?: string;
  /** Absent on separators and on the read-only usage lines. */
  action?: MenuAction;
  separator?: true;
}

export interface MenuInput {
  signedIn: boolean;
  gatewayUrl: string;
  account?: string;
  status: StatusView;
  caps: CapView[];
  now?: Date;
}

/** One line per cap: "Day: $0.40 of $50 (1 %)", with when it resets. */
export function usageEntries(caps: CapView[], status: StatusView, now = new Date()): MenuEntry[] {
  const capped = caps.filter((c) => c.limitCents !== null);
  if (!capped.length) return [{ label: `$(graph) ${status.text}` }];
  return capped.map((c) => {
    const word = PERIOD_WORD[c.period as keyof typeof PERIOD_WORD] ?? c.period;
    const reset = formatReset(c.resetsAt, now);
    return {
      label: `$(graph) ${word[0]!.toUpperCase()}${word.slice(1)}: ${dollars(c.usedCents)} of ${dollars(c.limitCents!)} (${c.percent ?? 0} %)`,
      ...(reset ? { description: `resets ${reset}` } : {}),
    };
  });
}

export function statusMenu(input: MenuInput): MenuEntry[] {
  const gateway = input.gatewayUrl || 'no gateway set';
  if (!input.signedIn) {
    return [
      { label: `$(sign-in) Sign In`, description: gateway, action: 'signIn' },
      { label: `$(arrow-swap) Switch Gateway…`, description: 'use another gateway address', action: 'switchGateway' },
      ...(input.gatewayUrl ? [{ label: `$(server) Gateway Status`, description: gateway, action: 'openGatewayStatus' as const }] : []),
    ];
  }
  return [
    { label: 'Usage', separator: true },
    ...usageEntries(input.caps, input.status, input.now),
    { label: input.account ? `Signed in as ${input.account}` : 'Tollgate', separator: true },
    { label: `$(layout-sidebar-left) Open Sidebar`, description: 'spend, policy, recent requests', action: 'openSidebar' },
    { label: `$(refresh) Refresh Policy`, description: 're-read policy and budget now', action: 'refreshPolicy' },
    { label: `$(arrow-swap) Switch Gateway…`, description: gateway, action: 'switchGateway' },
    { label: `$(sign-out) Sign Out`, action: 'signOut' },
  ];
}

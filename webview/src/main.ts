/** Sidebar entry: handshake, then re-render on every state update. */
import type { SidebarState } from '../../gateway-server/src/protocol/webview';
import { Rpc } from './rpc';
import { accountView } from './views/account';
import { policyView } from './views/policy';
import { sizeBars, spendView } from './views/spend';
import { healthView, recentView } from './views/activity';
import { Announcer } from './views/live';

const app = document.getElementById('app')!;
const live = document.getElementById('live');
const announcer = new Announcer();

const rpc = new Rpc(render);
const run = (c: Parameters<Rpc['run']>[0]) => void rpc.run(c).catch(() => {});

function render(s: SidebarState): void {
  // Keep keyboard focus across re-renders: find the focused control by id and refocus it.
  const focused = document.activeElement?.id;
  const views = s.signedIn ? [accountView(s, run), spendView(s), policyView(s), recentView(s), healthView(s, run)] : [accountView(s, run), healthView(s, run)];
  app.replaceChildren(...views);
  sizeBars(app);
  if (focused) document.getElementById(focused)?.focus();
  const say = announcer.next(s);
  if (say !== undefined && live) live.textContent = say;
}

rpc.ready();

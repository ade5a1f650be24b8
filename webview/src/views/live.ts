/**
 * The one live region: the status sentence, announced politely and only when it changes. The
 * sidebar itself is redrawn every minute; making it a live region re-read all of it to screen
 * readers each time. Pure (no DOM) so a unit test checks what is announced.
 */
import type { SidebarState } from '../../../gateway-server/src/protocol/webview';

export function statusSentence(s: SidebarState): string {
  if (!s.signedIn) return 'Tollgate: not signed in.';
  if (s.block) return `Tollgate: ${s.block.kind === 'overCap' ? 'over cap' : 'blocked'}. ${s.block.reason}`;
  return `Tollgate: ${s.status.text}.`;
}

/** What to put in the live region now, or undefined to leave it (and the screen reader) alone. */
export class Announcer {
  private last: string | undefined;

  next(s: SidebarState): string | undefined {
    const sentence = statusSentence(s);
    if (sentence === this.last) return undefined;
    const first = this.last === undefined;
    this.last = sentence;
    // The first render is the page loading, not a change: nothing to announce.
    return first ? undefined : sentence;
  }
}

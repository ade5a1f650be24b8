/** The last proxied requests, newest first, for the sidebar. */
import type { RecentRequest } from '../../../gateway-server/src/protocol/webview';

export class RecentRequests {
  private items: RecentRequest[] = [];
  constructor(private readonly max = 20) {}
  add(r: RecentRequest): void {
    this.items = [r, ...this.items].slice(0, this.max);
  }
  /** Attach a cost once the usage endpoint shows how much spend moved. */
  setCost(at: string, costCents: number): void {
    const r = this.items.find((i) => i.at === at);
    if (r && r.costCents === null) r.costCents = costCents;
  }
  list(): RecentRequest[] {
    return this.items.map((i) => ({ ...i }));
  }
}

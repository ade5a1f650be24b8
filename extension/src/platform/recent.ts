/** The last proxied requests, newest first, for the sidebar. */
import type { RecentRequest } from '../../../gateway-server/src/protocol/webview';

export class RecentRequests {
  private items: RecentRequest[] = [];
  constructor(private readonly max = 20) {}
  add(r: RecentRequest): void {
    this.items = [r, ...this.items].slice(0, this.max);
  }
  /** Attach what the gateway charged, by request id (GET /v1/me/requests). Returns whether any changed. */
  setCosts(byRequestId: ReadonlyMap<string, number>): boolean {
    let changed = false;
    for (const r of this.items) {
      if (r.costMicros !== null || !r.requestId) continue;
      const cost = byRequestId.get(r.requestId);
      if (cost === undefined) continue;
      r.costMicros = cost;
      changed = true;
    }
    return changed;
  }
  /** Requests still waiting for their charge. */
  pendingCosts(): number {
    return this.items.filter((i) => i.costMicros === null && i.requestId).length;
  }
  list(): RecentRequest[] {
    return this.items.map((i) => ({ ...i }));
  }
}

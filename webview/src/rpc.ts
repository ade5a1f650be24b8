/**
 * Typed client over postMessage: requests get ids and resolve on the matching `rpc/result`;
 * every message from the host is parsed with the shared contract before use.
 */
import { hostToWebviewSchema, webviewToHostSchema, type SidebarState, type WebviewCommand, type WebviewToHost } from '../../gateway-server/src/protocol/webview';

interface VsCodeApi {
  postMessage(msg: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export class Rpc {
  private readonly api = acquireVsCodeApi();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(private readonly onState: (s: SidebarState) => void) {
    window.addEventListener('message', (ev: MessageEvent) => {
      const parsed = hostToWebviewSchema.safeParse(ev.data);
      if (!parsed.success) return;
      const msg = parsed.data;
      if (msg.type === 'state/update') this.onState(msg.state);
      else {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.ok) p?.resolve();
        else p?.reject(new Error(msg.error ?? 'failed'));
      }
    });
  }

  private send(msg: WebviewToHost): void {
    this.api.postMessage(webviewToHostSchema.parse(msg));
  }

  ready(): void {
    this.send({ type: 'view/ready' });
  }

  run(command: WebviewCommand): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'rpc/request', id, method: 'command/run', params: { command } });
    });
  }
}

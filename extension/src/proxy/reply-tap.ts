/**
 * Reads model and token counts from a reply as it streams past (SSE or JSON), reusing the
 * gateway's own usage tap so both sides count tokens the same way.
 */
import { UsageTap } from '../../../gateway-server/src/inference/usage-tap';

export class ReplyTap {
  private readonly usage: UsageTap;
  private head = '';

  constructor(streaming: boolean) {
    this.usage = new UsageTap(streaming);
  }

  write(chunk: Buffer): void {
    this.usage.write(chunk);
    if (this.head.length < 4096) this.head += chunk.toString('utf8', 0, Math.min(chunk.length, 4096));
  }

  finish(): { model?: string; inputTokens: number; outputTokens: number } {
    const u = this.usage.finish();
    const model = /"model"\s*:\s*"([^"]{1,200})"/.exec(this.head)?.[1];
    return {
      ...(model ? { model } : {}),
      inputTokens: u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens,
      outputTokens: u.output_tokens,
    };
  }
}

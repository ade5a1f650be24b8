/**
 * Reads model and token counts from a reply as it streams past (SSE or JSON), reusing the
 * gateway's own usage tap so both sides count tokens the same way.
 */
import { StringDecoder } from 'node:string_decoder';
import { UsageTap } from '../../../gateway-server/src/inference/usage-tap';
import type { ApiFamily } from './api-family';
import { ResponsesUsageTap } from './responses-usage';

export class ReplyTap {
  private readonly usage?: UsageTap;
  private readonly responses?: ResponsesUsageTap;
  private head = '';
  /** Keeps a multibyte character split across chunks whole in the head we search for the model. */
  private readonly headDecoder = new StringDecoder('utf8');

  constructor(streaming: boolean, family: ApiFamily = 'anthropic') {
    if (family === 'openai') this.responses = new ResponsesUsageTap(streaming);
    else this.usage = new UsageTap(streaming);
  }

  write(chunk: Buffer): void {
    this.usage?.write(chunk);
    this.responses?.write(chunk);
    if (this.head.length < 4096) this.head += this.headDecoder.write(chunk.subarray(0, 4096 - this.head.length));
  }

  /** The first 4 KiB of the reply as text (an error reply's envelope fits in it). */
  get text(): string {
    return this.head;
  }

  finish(): { model?: string; inputTokens: number; outputTokens: number } {
    const model = /"model"\s*:\s*"([^"]{1,200})"/.exec(this.head)?.[1];
    if (this.responses) {
      const r = this.responses.finish();
      return { ...(r.model || model ? { model: r.model ?? model } : {}), inputTokens: r.inputTokens, outputTokens: r.outputTokens };
    }
    const u = this.usage!.finish();
    return {
      ...(model ? { model } : {}),
      inputTokens: u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens,
      outputTokens: u.output_tokens,
    };
  }
}

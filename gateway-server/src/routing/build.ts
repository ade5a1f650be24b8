import type { Config } from '../config/load';
import { AnthropicUpstream } from './anthropic';
import { SimulatedUpstream } from './simulated';
import { OpenAIUpstream } from './openai';
import type { Upstream } from './upstream';

/**
 * One adapter per configured upstream, in failover order.
 *
 * The cloud adapters are loaded only when an upstream of their kind is configured: Bedrock
 * brings the AWS SDK credential chain and smithy (SigV4, event-stream codec), Vertex brings
 * google-auth-library, together ~13-17 MB of resident memory and ~5 MB of V8 heap that a
 * gateway in front of api.anthropic.com never uses. The server bundle is split at these
 * imports (scripts/build.mjs), so their packages are not even parsed unless needed.
 */
export async function buildUpstreams(config: Config): Promise<Upstream[]> {
  const ttfbMs = config.timeouts.upstream_ttfb_ms;
  const idleMs = config.timeouts.upstream_idle_ms;
  const kinds = new Set(config.upstreams.map((u) => u.provider));
  const bedrock = kinds.has('bedrock') ? await import('./bedrock') : undefined;
  const vertex = kinds.has('vertex') ? await import('./vertex') : undefined;
  return config.upstreams.map((u) => {
    switch (u.provider) {
      case 'anthropic':
        return new AnthropicUpstream(u, ttfbMs, idleMs);
      case 'bedrock':
        return new bedrock!.BedrockUpstream(u, { ttfbMs, idleMs });
      case 'vertex':
        return new vertex!.VertexUpstream(u, { ttfbMs, idleMs });
      case 'simulated':
        return new SimulatedUpstream(u);
      case 'openai':
      case 'azure_openai':
        return new OpenAIUpstream(u, ttfbMs, idleMs);
    }
  });
}

export { cloudModelId } from './model-ids';

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
 * gateway in front of api.anthropic.com never uses; Azure OpenAI with auth.entra_id brings
 * @azure/identity (MSAL) the same way. The server bundle is split at these
 * imports (scripts/build.mjs), so their packages are not even parsed unless needed.
 */
export async function buildUpstreams(config: Config): Promise<Upstream[]> {
  const ttfbMs = config.timeouts.upstream_ttfb_ms;
  const idleMs = config.timeouts.upstream_idle_ms;
  const kinds = new Set(config.upstreams.map((u) => u.provider));
  const bedrock = kinds.has('bedrock') ? await import('./bedrock') : undefined;
  const vertex = kinds.has('vertex') ? await import('./vertex') : undefined;
  const entra = config.upstreams.some((u) => u.provider === 'azure_openai' && u.auth.entra_id) ? await import('./entra-token') : undefined;
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
        return new OpenAIUpstream(u, ttfbMs, idleMs);
      case 'azure_openai':
        // The token fetch is bounded like the upstream's first byte.
        return new OpenAIUpstream(u, ttfbMs, idleMs, u.auth.entra_id ? entra!.entraTokenSource(u.auth.entra_id, ttfbMs) : undefined);
    }
  });
}

export { cloudModelId } from './model-ids';

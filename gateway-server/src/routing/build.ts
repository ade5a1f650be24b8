import type { Config } from '../config/load';
import { AnthropicUpstream } from './anthropic';
import { BedrockUpstream } from './bedrock';
import { SimulatedUpstream } from './simulated';
import type { Upstream } from './upstream';
import { VertexUpstream } from './vertex';

/** One adapter per configured upstream, in failover order. */
export function buildUpstreams(config: Config): Upstream[] {
  const ttfbMs = config.timeouts.upstream_ttfb_ms;
  return config.upstreams.map((u) => {
    switch (u.provider) {
      case 'anthropic':
        return new AnthropicUpstream(u, ttfbMs);
      case 'bedrock':
        return new BedrockUpstream(u, { ttfbMs });
      case 'vertex':
        return new VertexUpstream(u, { ttfbMs });
      case 'simulated':
        return new SimulatedUpstream(u);
    }
  });
}

export { cloudModelId } from './model-ids';

import type { Config } from '../config/load';
import { AnthropicUpstream } from './anthropic';
import { SimulatedUpstream } from './simulated';
import type { Upstream } from './upstream';

/** One adapter per configured upstream, in failover order. Cloud adapters are added by provider. */
export function buildUpstreams(config: Config): Upstream[] {
  return config.upstreams.map((u) => {
    switch (u.provider) {
      case 'anthropic':
        return new AnthropicUpstream(u, config.timeouts.upstream_ttfb_ms);
      case 'simulated':
        return new SimulatedUpstream(u);
      default:
        throw new Error(`upstreams: provider "${u.provider}" is not available in this build`);
    }
  });
}

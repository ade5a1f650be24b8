import type { Feature, FeatureContext } from '../feature';

/** The routing feature's contribution to the app (see ../feature.ts). */
export async function createRoutingFeature(_ctx: FeatureContext): Promise<Feature> {
  return {};
}

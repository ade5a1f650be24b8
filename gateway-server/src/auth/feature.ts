import type { Feature, FeatureContext } from '../feature';

/** The identity feature's contribution to the app (see ../feature.ts). */
export async function createIdentityFeature(_ctx: FeatureContext): Promise<Feature> {
  return {};
}

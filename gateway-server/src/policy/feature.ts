import type { Feature, FeatureContext } from '../feature';

/** The policy feature's contribution to the app (see ../feature.ts). */
export async function createPolicyFeature(_ctx: FeatureContext): Promise<Feature> {
  return {};
}

import type { Feature, FeatureContext } from '../feature';

/** The spend feature's contribution to the app (see ../feature.ts). */
export async function createSpendFeature(_ctx: FeatureContext): Promise<Feature> {
  return {};
}

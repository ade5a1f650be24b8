import type { Feature, FeatureContext } from '../feature';

/** The audit feature's contribution to the app (see ../feature.ts). */
export async function createAuditFeature(_ctx: FeatureContext): Promise<Feature> {
  return {};
}

import type { Feature, FeatureContext } from '../feature';

/** The telemetry feature's contribution to the app (see ../feature.ts). */
export async function createTelemetryFeature(_ctx: FeatureContext): Promise<Feature> {
  return {};
}

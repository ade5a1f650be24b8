/**
 * The telemetry feature: the OTLP relay for clients' telemetry (routes) and the gateway's own
 * metrics (an inference observer and an event listener). Both are fire-and-forget: the
 * observer records in memory and returns, so telemetry costs the request path nothing.
 */
import type { Feature, FeatureContext } from '../feature';
import { GATEWAY_VERSION } from '../version';
import type { GatewayMetrics } from './gateway-metrics';
import { OtlpRelay } from './relay';
import { relayRoutes } from './routes';

export interface TelemetryFeature extends Feature {
  relay: OtlpRelay;
  metrics?: GatewayMetrics;
}

export async function createTelemetryFeature(ctx: FeatureContext): Promise<TelemetryFeature> {
  const t = ctx.config.telemetry;
  const destinations = t?.forward_to ?? [];
  for (const d of destinations) {
    const u = new URL(d.url);
    const loopback = u.hostname === 'localhost' || u.hostname.startsWith('127.') || u.hostname === '[::1]';
    if (u.protocol !== 'https:' && !loopback) {
      ctx.log.warn({ evt: 'telemetry.insecure_destination', destination: u.origin }, 'telemetry destination is not https; its payloads and headers travel in clear');
    }
  }
  const relay = new OtlpRelay(destinations, { fetch: ctx.fetch, now: () => Date.now(), log: ctx.log });
  const metricDestinations = destinations.filter((d) => d.gateway_metrics);
  const providers = new Map(ctx.config.upstreams.map((u) => [u.name, u.provider]));
  // The OpenTelemetry SDK and OTLP exporter (~10 MB resident) load only when some destination
  // takes the gateway's own metrics; the relay alone forwards bytes and needs none of it.
  const metrics = metricDestinations.length
    ? new (await import('./gateway-metrics')).GatewayMetrics({
        destinations: metricDestinations,
        resourceAttributes: t?.resource_attributes ?? {},
        serviceVersion: GATEWAY_VERSION,
        providerOf: (name) => providers.get(name),
      })
    : undefined;
  // Features created before this one (audit) contribute gauges such as audit sink lag.
  for (const f of Object.values(ctx.features)) for (const g of f?.gauges ?? []) metrics?.observe(g);

  return {
    relay,
    metrics,
    observers: metrics
      ? [
          {
            onInference(e) {
              try {
                metrics.onInference(e);
              } catch (err) {
                ctx.log.warn({ err, evt: 'telemetry.record_failed' }, 'could not record gateway metrics');
              }
            },
          },
        ]
      : [],
    onEvent(e) {
      metrics?.onEvent(e);
    },
    routes: async (app, fctx) => {
      await app.register(relayRoutes, { auth: fctx.auth, relay, maxRequestBytes: ctx.config.limits.max_request_bytes });
    },
    async close() {
      await metrics?.shutdown().catch((err) => ctx.log.warn({ err, evt: 'telemetry.flush_failed' }, 'final metrics export failed'));
      await relay.close();
    },
  };
}

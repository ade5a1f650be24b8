import { AdminAuthenticator } from '../admin/admin-auth';
import type { Feature, FeatureContext } from '../feature';
import { CircuitBreakers } from './breaker';
import type { OperatorLog } from './cloud-http';
import { routingRoutes } from './routes';

/** Cloud adapters take the operator log after construction (buildUpstreams runs before features). */
interface LogSink {
  setLog(log: OperatorLog): void;
}

/**
 * The routing feature: wires cloud adapters to the operator log and contributes the circuit
 * breaker as the route observer. Telemetry reads breaker state through
 * `features.routing.routeObserver` (a CircuitBreakers: `snapshot()`, `onChange()`).
 */
export async function createRoutingFeature(ctx: FeatureContext): Promise<Feature> {
  for (const u of ctx.upstreams) {
    if (typeof (u as Partial<LogSink>).setLog === 'function') {
      (u as unknown as LogSink).setLog((detail, message) => ctx.log.warn(detail, message));
    }
  }
  const cb = ctx.config.circuit_breaker;
  const breakers = new CircuitBreakers({
    failureThreshold: cb.failure_threshold,
    cooldownMs: cb.cooldown_seconds * 1000,
    now: () => ctx.clock.now(),
  });
  breakers.onChange((c) => {
    const detail = { upstream: c.upstream, from: c.from, to: c.to, consecutiveFailures: c.consecutiveFailures, reason: c.reason };
    if (c.to === 'open') ctx.log.warn(detail, 'circuit breaker opened: upstream skipped until a probe succeeds');
    else ctx.log.info(detail, `circuit breaker ${c.to === 'closed' ? 'closed' : 'half-open'}`);
    void Promise.resolve(
      ctx.emit({
        name: 'routing.circuit',
        at: new Date(ctx.clock.now()),
        outcome: c.to === 'open' ? 'error' : 'ok',
        reason: c.reason,
        detail: { upstream: c.upstream, from: c.from, to: c.to },
      }),
    ).catch(() => {});
  });
  return {
    routeObserver: breakers,
    routes: (app, rctx) =>
      routingRoutes(app, { admin: new AdminAuthenticator(rctx.config, rctx.auth, (e) => rctx.emit(e)), upstreams: rctx.upstreams, breakers }),
  };
}

export { CircuitBreakers } from './breaker';

/**
 * Client env pushed through /managed/settings when the gateway relays telemetry
 * (claude-apps-gateway-spec.md §7 "Pushed client env"). It sits under each policy's own `env`,
 * so a policy can still point its clients elsewhere. Pure.
 */

export interface TelemetryConfig {
  forward_to: readonly { metrics: boolean; logs: boolean; traces: boolean }[];
  resource_attributes: Readonly<Record<string, string>>;
}

/** Resource attributes the client stamps itself from the session; an operator value would be overwritten or spoof identity. */
export const RESERVED_ATTRIBUTE_PREFIXES = ['user.', 'enduser.', 'identity.', 'session.', 'service.'];

export function isReservedAttribute(key: string): boolean {
  return RESERVED_ATTRIBUTE_PREFIXES.some((p) => key.startsWith(p));
}

/** W3C Baggage-style list, as OTEL_RESOURCE_ATTRIBUTES expects: `k=v,k2=v2`, values percent-encoded. */
export function encodeResourceAttributes(attrs: Readonly<Record<string, string>>): string {
  return Object.entries(attrs)
    .filter(([k]) => !isReservedAttribute(k))
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join(',');
}

export function telemetryEnv(telemetry: TelemetryConfig | undefined, publicUrl: string): Record<string, string> | undefined {
  if (!telemetry || telemetry.forward_to.length === 0) return undefined;
  const on = (signal: 'metrics' | 'logs' | 'traces') => (telemetry.forward_to.some((d) => d[signal]) ? 'otlp' : 'none');
  const env: Record<string, string> = {
    CLAUDE_CODE_ENABLE_TELEMETRY: '1',
    OTEL_METRICS_EXPORTER: on('metrics'),
    OTEL_LOGS_EXPORTER: on('logs'),
    OTEL_TRACES_EXPORTER: on('traces'),
    OTEL_EXPORTER_OTLP_ENDPOINT: publicUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  };
  const attrs = encodeResourceAttributes(telemetry.resource_attributes);
  if (attrs) env.OTEL_RESOURCE_ATTRIBUTES = attrs;
  return env;
}

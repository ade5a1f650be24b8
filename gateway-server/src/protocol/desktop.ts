/**
 * GET /user/bootstrap: Claude Desktop's configuration, derived from the caller's managed policy
 * (claude-apps-gateway-spec.md §3 "Claude Desktop"; field names and order as Anthropic's gateway
 * 2.1.332 answers, observed with `claude gateway` on loopback). Keys of the policy's `desktop:`
 * block are passed through after the derived fields.
 */
import { z } from 'zod';

export const desktopBootstrapSchema = z
  .object({
    inferenceProvider: z.literal('gateway'),
    inferenceGatewayBaseUrl: z.string(),
    inferenceCredentialKind: z.literal('interactive'),
    /** Present when the gateway relays telemetry (`telemetry.forward_to`). */
    otlpEndpoint: z.string().optional(),
    otlpProtocol: z.literal('http/protobuf').optional(),
    otlpResourceAttributes: z.record(z.string(), z.string()).optional(),
    inferenceModels: z.array(z.object({ name: z.string(), supports1m: z.literal(true).optional() })),
    /** Bare tool names from the policy's `permissions.deny`; absent when there are none. */
    disabledBuiltinTools: z.array(z.string()).optional(),
    /** The policy's `sandbox.network.allowedDomains`; absent when unset. */
    coworkEgressAllowedHosts: z.array(z.string()).optional(),
    /** Unix seconds: when the session this configuration was issued for needs renewing. */
    expiresAt: z.number().int(),
  })
  .passthrough();
export type DesktopBootstrap = z.infer<typeof desktopBootstrapSchema>;

/** Why GET /user/bootstrap answered 404: the `reason` of `desktop_bootstrap.denied`. */
export type DesktopDenial = 'not_configured' | 'no_policy_matched' | 'policy_not_opted_in';

/** Fields the gateway derives; a `desktop:` block cannot set them (boot warns). */
export const DESKTOP_DERIVED_KEYS: readonly string[] = Object.keys(desktopBootstrapSchema.shape);

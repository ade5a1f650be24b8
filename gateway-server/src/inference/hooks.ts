/**
 * The seams of the inference path. Each feature (policy, spend, audit, telemetry) supplies one
 * object; the pipeline (pipeline.ts) calls them in protocol order. Defaults admit everything,
 * so the path works with any subset of features configured.
 */
import type { Principal } from '../auth/session-token';
import type { RouteCandidate } from '../routing/failover';
import type { ApiFamilyName, UpstreamOperation } from '../routing/upstream';
import type { Usage } from './usage-tap';

export interface ModelAccess {
  /**
   * The upstreams (in failover order) that may serve `model` for this caller.
   * Throws GatewayError MODEL_NOT_ALLOWED / MODEL_NOT_CONFIGURED.
   */
  resolve(principal: Principal, model: string, operation: UpstreamOperation): RouteCandidate[];
}

export interface AdmitContext {
  principal: Principal;
  model: string;
  body: Record<string, unknown>;
  rawBodyBytes: number;
  /** The body as received, for byte scans that must not re-serialise it. */
  rawBody?: Buffer;
  requestId: string;
  /** The client API (absent = Anthropic Messages): how the body states its output limit. */
  family?: ApiFamilyName;
  /** Ask the upstreams that would serve the request for its prompt's token count (undefined when they cannot say). */
  countPromptTokens?: () => Promise<number | undefined>;
}

export interface Admission {
  /** Usage-limit headers for a successful response (empty for uncapped callers). */
  headers: Record<string, string>;
  /**
   * Near a hard cap: forward this body instead of the client's: its `max_tokens` lowered to what
   * the budget left pays for (every other byte unchanged); or, when only a request without
   * prompt caching fits, the body re-serialised without its `cache_control` markers, `max_tokens`
   * lowered too if need be (spend/uncached.ts). `rawBody` and `body` say the same. Absent =
   * forward the client's bytes.
   */
  forward?: { rawBody: Buffer; body: Record<string, unknown> };
  /**
   * Charge the real cost and release the rest of any reservation. Returns the cost charged in
   * micro-dollars. `aborted` marks a stream cut before message_stop.
   */
  settle(result: { usage: Usage; upstream?: string; upstreamModel?: string; aborted: boolean; outputChars: number; status: number }): Promise<number>;
  /**
   * Resolves once the charge is stored (it may ride in the audit row's transaction, so the route
   * awaits it after the observers, before ending the response). Absent = nothing to wait for.
   */
  committed?(): Promise<void>;
}

export interface SpendGate {
  /** Throws GatewayError SPEND_LIMIT_REACHED (with the 429 headers) when a cap is hit. */
  admit(ctx: AdmitContext): Promise<Admission>;
}

export type InferenceOutcome =
  | 'ok'
  | 'upstream_error'
  | 'denied_auth'
  | 'denied_policy'
  | 'blocked_spend'
  | 'invalid_request'
  | 'client_aborted'
  | 'upstream_cut'
  | 'error';

export interface InferenceEvent {
  requestId: string;
  at: Date;
  principal?: Principal;
  operation: UpstreamOperation;
  model?: string;
  upstream?: string;
  upstreamModel?: string;
  status: number;
  outcome: InferenceOutcome;
  reason?: string;
  usage?: Usage;
  costMicros?: number;
  latencyMs: number;
  ttfbMs?: number;
  stream: boolean;
  /** `surface` header or user-agent family, and Claude Code's session id header. */
  clientSurface?: string;
  clientSessionId?: string;
  /** Client request metadata for the audit row's detail (e.g. Codex thread_id, request_kind); never prompt text. */
  clientDetail?: Record<string, string>;
  attempts?: number;
}

export interface InferenceObserver {
  /**
   * Called once per request that reached an authenticated inference route, before the response
   * completes. Awaited: an audit writer can make its row durable before the client sees the end.
   */
  onInference(event: InferenceEvent): Promise<void> | void;
}

export interface InferenceHooks {
  access: ModelAccess;
  spend: SpendGate;
  observers: InferenceObserver[];
}

export const admitEverything: SpendGate = {
  async admit() {
    return { headers: {}, settle: async () => 0 };
  },
};

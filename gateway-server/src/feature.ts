/**
 * What a feature (identity, policy, spend, audit, telemetry, routing) contributes to the app.
 * Each feature folder exports one `create…Feature(ctx)`; buildApp composes them. Features never
 * import each other's internals: they meet at the seams in inference/hooks.ts and here.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load';
import type { Db } from './store/db';
import type { Upstream } from './routing/upstream';
import type { RevocationCheck, BearerAuthenticator } from './auth/bearer';
import type { SessionTokens } from './auth/session-token';
import type { RouteObserver } from './routing/failover';
import type { InferenceObserver, ModelAccess, SpendGate } from './inference/hooks';
import type { WriteSource } from './store/shared-writes';

export interface Clock {
  now(): number;
}

export interface FeatureContext {
  config: Config;
  db: Db;
  clock: Clock;
  tokens: SessionTokens;
  upstreams: Upstream[];
  fetch: typeof fetch;
  log: FastifyInstance['log'];
  /** Set once every feature is created (features that need to authenticate in their routes). */
  auth?: BearerAuthenticator;
  /** Other features' contributions, for the few legitimate cross-feature reads (e.g. spend needs model access). */
  features: Partial<Record<FeatureName, Feature>>;
  /**
   * Report a non-inference event (sign-in, refresh, revocation, admin mutation, denial) to every
   * feature's onEvent (audit, telemetry). Awaited by callers that need the record durable.
   */
  emit(event: GatewayEvent): Promise<void>;
}

/** Events other than inference requests (those are InferenceEvent in inference/hooks.ts). */
export interface GatewayEvent {
  /** Dotted name as in docs/operations.md, e.g. `session.mint`, `session.refresh`, `session.revoke`, `auth.denied`, `admin.limit.upsert`. */
  name: string;
  at: Date;
  requestId?: string;
  principal?: { sub: string; email?: string; groups?: readonly string[] };
  /** Who acted, for admin events: `admin-key:<id>` or `oidc:<sub>`. */
  actor?: string;
  outcome: 'ok' | 'denied' | 'error';
  reason?: string;
  /** Client surface (e.g. `claude_code`) and the session id, when known. */
  surface?: string;
  sessionId?: string;
  /** Small structured details; never tokens, codes, prompts or other secrets. */
  detail?: Record<string, unknown>;
}

export type FeatureName = 'identity' | 'policy' | 'routing' | 'spend' | 'audit' | 'console' | 'telemetry';

export interface Feature {
  /** Routes this feature serves, registered at the root. Receives the context with `auth` set. */
  routes?: (app: FastifyInstance, ctx: FeatureContext & { auth: BearerAuthenticator }) => Promise<void>;
  access?: ModelAccess;
  spend?: SpendGate;
  observers?: InferenceObserver[];
  revocations?: RevocationCheck;
  routeObserver?: RouteObserver;
  onEvent?(event: GatewayEvent): Promise<void> | void;
  /** Writes this feature queues that another feature's transactions may carry (spend settlements). */
  writes?: WriteSource;
  /** Carry `source`'s writes in this feature's transactions (the audit writer). */
  carryWrites?(source: WriteSource): void;
  /** Commit `derive(rows)`'s statement with every audit batch (the audit writer; console rollups). */
  deriveWrites?(derive: (rows: readonly import('./audit/record').AuditContent[]) => string | undefined): void;
  /** Values the gateway's metrics observe at each export (e.g. audit sink lag), read off the request path. */
  gauges?: GaugeSource[];
  /** A reason to refuse every new request right now (the audit spool is full), else undefined. */
  refuse?(): import('./errors').GatewayError | undefined;
  close?(): Promise<void>;
}

/** An observable gauge another feature exports through the telemetry feature's metrics. */
export interface GaugeSource {
  name: string;
  unit: string;
  description: string;
  read(): { value: number; attributes: Record<string, string> }[];
}

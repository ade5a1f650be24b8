/**
 * An API family is what differs between client protocols on the inference path (Anthropic
 * Messages, OpenAI Responses): its routes, how a body says it streams, how usage is read from the
 * reply, which client headers go upstream, what the audit row learns about the client, and how a
 * mid-stream failure is told to the client. Everything else (authenticate → parse → policy →
 * spend admission → route → relay with usage tap → settle + audit) is one pipeline
 * (pipeline.ts), so a third family is one file under families/.
 */
import type { GatewayError } from '../errors';
import type { ApiFamilyName, UpstreamOperation } from '../routing/upstream';
import type { UsageReader } from './usage-tap';

type RawHeaders = Record<string, string | string[] | undefined>;

export interface ClientInfo {
  /** Client family from `user-agent` (`claude-cli`, `codex_exec`…). */
  surface?: string;
  sessionId?: string;
  /** Extra audit detail (never prompt text). */
  detail?: Record<string, string>;
}

export interface ApiFamily {
  readonly name: ApiFamilyName;
  /** POST routes of this family, each with the operation it performs. */
  readonly routes: readonly { path: string; operation: UpstreamOperation }[];
  /** The operation of a request refused before its handler ran (for its audit row). */
  operationOf(url: string): UpstreamOperation;
  /** Whether the operation costs tokens (spend admission and settlement apply). */
  charged(operation: UpstreamOperation): boolean;
  isStream(operation: UpstreamOperation, body: Record<string, unknown>): boolean;
  usageReader(stream: boolean): UsageReader;
  /** Client request headers this family's upstreams receive (never Authorization). */
  forwardableHeaders(raw: RawHeaders): Record<string, string>;
  client(raw: RawHeaders): ClientInfo;
  /** Status, headers and body of an error, in this family's envelope. */
  renderError(err: GatewayError, requestId: string): { status: number; headers: Record<string, string>; body: string };
  /** The SSE event that tells a streaming client its reply was cut (never a silent truncation). */
  streamErrorEvent(err: GatewayError): string;
}

export function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `name/version …` user agents name their client family. */
export function userAgentFamily(raw: RawHeaders): string | undefined {
  const ua = headerString(raw['user-agent']);
  if (!ua) return undefined;
  const m = /^([A-Za-z0-9._-]+)\//.exec(ua);
  return m ? m[1] : undefined;
}

/**
 * OCSF 1.3 mapping of an audit entry (docs/audit.md, "OCSF"), for sinks configured with
 * `schema: ocsf`, so Security Lake, Elastic or Sentinel ingest the events without a custom parser.
 * Sign-in and session events are Authentication (3002); every other event (inference, admin
 * changes, audit reads, checkpoints) is API Activity (6003). Fields OCSF has no attribute for go
 * under `unmapped`. The entry never holds prompt content or secrets, so neither does the event.
 */
import type { AuditEntry } from '../protocol/audit';
import { GATEWAY_VERSION } from '../version';

export const OCSF_VERSION = '1.3.0';
export type EventSchema = 'tollgate' | 'ocsf';

type Json = Record<string, unknown>;

const API_ACTIVITY = { class_uid: 6003, class_name: 'API Activity', category_uid: 6, category_name: 'Application Activity' } as const;
const AUTHENTICATION = { class_uid: 3002, class_name: 'Authentication', category_uid: 3, category_name: 'Identity & Access Management' } as const;

const API_ACTIVITIES: Record<number, string> = { 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' };
const AUTH_ACTIVITIES: Record<number, string> = { 1: 'Logon', 2: 'Logoff', 99: 'Other' };

export function isAuthenticationEvent(event: string): boolean {
  return event.startsWith('session.') || event.startsWith('auth.');
}

/** An inference creates a message; admin verbs map by their last word; anything else is Other. */
function apiActivityId(event: string): number {
  if (event === 'inference') return 1;
  if (event.endsWith('.read')) return 2;
  if (event.endsWith('.upsert') || event.endsWith('.update')) return 3;
  if (event.endsWith('.delete')) return 4;
  return 99;
}

/** A session is minted at sign-in (Logon) and revoked at sign-out (Logoff); a refused sign-in is a failed Logon. */
function authActivityId(event: string): number {
  if (event === 'session.mint' || event === 'auth.denied') return 1;
  if (event === 'session.revoke') return 2;
  return 99;
}

function actorOf(e: AuditEntry): Json {
  const actor: Json = {};
  if (e.principal) {
    actor.user = {
      uid: e.principal.sub,
      ...(e.principal.email ? { email_addr: e.principal.email } : {}),
      ...(e.principal.groups ? { groups: e.principal.groups.map((name) => ({ name })) } : {}),
    };
  } else if (e.actor) {
    actor.user = { uid: e.actor };
  }
  if (e.session_id) actor.session = { uid: e.session_id };
  // Events without a user (checkpoints, prunes) are the gateway acting on its own.
  actor.app_name = e.surface ?? 'tollgate-gateway';
  return actor;
}

/** The client surface when there was one; otherwise the event started inside the gateway. */
function srcEndpoint(e: AuditEntry): Json {
  const ip = typeof e.detail?.ip === 'string' ? { ip: e.detail.ip } : {};
  if (e.surface) return { ...ip, name: e.surface };
  return 'ip' in ip ? ip : { svc_name: 'tollgate-gateway' };
}

function unmapped(e: AuditEntry): Json {
  const u: Json = { outcome: e.outcome, chain: e.chain, seq: e.seq, prev_hash: e.prev_hash, hash: e.hash };
  if (e.actor) u.actor = e.actor;
  if (e.surface) u.surface = e.surface;
  if (e.model) u.model = e.model;
  if (e.upstream) u.upstream = e.upstream;
  if (e.tokens) u.tokens = e.tokens;
  if (e.cost_micros !== null) u.cost_micros = e.cost_micros;
  if (e.detail) u.detail = e.detail;
  return u;
}

function baseEvent(e: AuditEntry, cls: typeof API_ACTIVITY | typeof AUTHENTICATION, activityId: number, activityName: string): Json {
  const ok = e.outcome === 'ok';
  const ev: Json = {
    ...cls,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: cls.class_uid * 100 + activityId,
    type_name: `${cls.class_name}: ${activityName}`,
    // Denials are expected governance decisions, not incidents: Low, never higher.
    severity_id: ok ? 1 : 2,
    severity: ok ? 'Informational' : 'Low',
    time: Date.parse(e.at),
    status_id: ok ? 1 : 2,
    status: ok ? 'Success' : 'Failure',
    status_code: e.outcome,
    metadata: {
      version: OCSF_VERSION,
      uid: e.id,
      event_code: e.event,
      original_time: e.at,
      ...(e.request_id ? { correlation_uid: e.request_id } : {}),
      product: { name: 'Tollgate', vendor_name: 'Tollgate', version: GATEWAY_VERSION },
    },
    unmapped: unmapped(e),
  };
  if (e.reason) ev.status_detail = e.reason;
  if (e.latency_ms !== null) ev.duration = e.latency_ms;
  return ev;
}

function apiActivity(e: AuditEntry): Json {
  const id = apiActivityId(e.event);
  const operation = typeof e.detail?.operation === 'string' ? e.detail.operation : e.event;
  const ev = baseEvent(e, API_ACTIVITY, id, API_ACTIVITIES[id] ?? 'Other');
  ev.actor = actorOf(e);
  ev.api = {
    operation,
    service: { name: e.upstream ?? 'tollgate-gateway' },
    ...(e.request_id ? { request: { uid: e.request_id } } : {}),
  };
  ev.src_endpoint = srcEndpoint(e);
  if (e.status !== null) ev.http_response = { code: e.status };
  return ev;
}

function authentication(e: AuditEntry): Json {
  const id = authActivityId(e.event);
  const ev = baseEvent(e, AUTHENTICATION, id, AUTH_ACTIVITIES[id] ?? 'Other');
  // A refused sign-in may have no verified subject; OCSF still needs a user, so it is named Unknown.
  ev.user = e.principal
    ? { uid: e.principal.sub, ...(e.principal.email ? { email_addr: e.principal.email } : {}) }
    : { name: 'Unknown', type_id: 0, type: 'Unknown' };
  ev.actor = actorOf(e);
  ev.src_endpoint = srcEndpoint(e);
  ev.dst_endpoint = { svc_name: 'tollgate-gateway' };
  ev.service = { name: 'tollgate-gateway' };
  if (e.session_id) ev.session = { uid: e.session_id };
  if (e.status !== null) ev.http_response = { code: e.status };
  return ev;
}

export function toOcsf(e: AuditEntry): Json {
  return isAuthenticationEvent(e.event) ? authentication(e) : apiActivity(e);
}

/** The object a sink ships for one row, in the sink's configured schema. */
export function eventBody(e: AuditEntry, schema: EventSchema | undefined): AuditEntry | Json {
  return schema === 'ocsf' ? toOcsf(e) : e;
}

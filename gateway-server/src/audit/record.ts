/**
 * One audit row, its canonical serialisation and its hash. Pure: no database, no Fastify.
 *
 * The hash covers every column except `id` (assigned by the database) and `hash` itself, in a
 * canonical JSON form (sorted keys, nulls explicit, integers as decimal strings, time as ISO
 * with milliseconds). Those are exactly the values PostgreSQL and PGlite give back, so a
 * verifier recomputes the hash from a row read later and any edit shows.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../protocol/settings';
import type { InferenceEvent } from '../inference/hooks';
import type { GatewayEvent } from '../feature';
import { hasUnstorableText, replaceUnstorable } from '../edge/input-text';

export const GENESIS_HASH = '0'.repeat(64);

/** The content of a row, before it is placed in a chain. */
export interface AuditContent {
  at: Date;
  event: string;
  request_id: string | null;
  sub: string | null;
  email: string | null;
  groups: string[] | null;
  actor: string | null;
  surface: string | null;
  session_id: string | null;
  model: string | null;
  upstream: string | null;
  status: number | null;
  outcome: string;
  reason: string | null;
  input_tokens: string | null;
  output_tokens: string | null;
  cache_read_tokens: string | null;
  cache_creation_tokens: string | null;
  cost_micros: string | null;
  latency_ms: number | null;
  detail: Record<string, unknown> | null;
}

export interface ChainedRow extends AuditContent {
  chain: string;
  seq: string;
  prev_hash: string;
  hash: string;
}

export const CONTENT_COLUMNS = [
  'at', 'event', 'request_id', 'sub', 'email', 'groups', 'actor', 'surface', 'session_id', 'model', 'upstream', 'status',
  'outcome', 'reason', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'cost_micros',
  'latency_ms', 'detail',
] as const satisfies readonly (keyof AuditContent)[];

export const ROW_COLUMNS = ['chain', 'seq', ...CONTENT_COLUMNS, 'prev_hash', 'hash'] as const;

const str = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));
const int = (v: unknown): number | null => (v === undefined || v === null ? null : Number(v));

/** Bring a row as either driver returns it to the exact typed shape the hash is computed over. */
export function normaliseRow(r: Record<string, unknown>): ChainedRow {
  return {
    chain: String(r.chain),
    seq: String(r.seq),
    at: r.at instanceof Date ? r.at : new Date(String(r.at)),
    event: String(r.event),
    request_id: str(r.request_id),
    sub: str(r.sub),
    email: str(r.email),
    groups: (r.groups as string[] | null | undefined) ?? null,
    actor: str(r.actor),
    surface: str(r.surface),
    session_id: str(r.session_id),
    model: str(r.model),
    upstream: str(r.upstream),
    status: int(r.status),
    outcome: String(r.outcome),
    reason: str(r.reason),
    input_tokens: str(r.input_tokens),
    output_tokens: str(r.output_tokens),
    cache_read_tokens: str(r.cache_read_tokens),
    cache_creation_tokens: str(r.cache_creation_tokens),
    cost_micros: str(r.cost_micros),
    latency_ms: int(r.latency_ms),
    detail: (r.detail as Record<string, unknown> | null | undefined) ?? null,
    prev_hash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/**
 * The hashed form: canonicalJson of `{ v: 1, chain, seq, prev_hash, ...content }` (`at` as ISO
 * text, absent values as null), built directly: the key set is fixed, so its sorted order and
 * each `"key":` prefix are computed once instead of sorting and re-quoting 25 keys per row.
 * Only the nested values (`groups`, `detail`) go through the generic canonicalJson.
 * Byte-identical to the generic form (test/unit/audit-record.test.ts checks it).
 */
type HashedKey = 'v' | 'chain' | 'seq' | 'prev_hash' | (typeof CONTENT_COLUMNS)[number];
const HASHED_KEYS: readonly HashedKey[] = (['v', 'chain', 'seq', 'prev_hash', ...CONTENT_COLUMNS] as HashedKey[]).sort();
const HASHED_PREFIXES = HASHED_KEYS.map((k, i) => `${i === 0 ? '{' : ','}${JSON.stringify(k)}:`);

export function canonicalRow(row: Omit<ChainedRow, 'hash'>): string {
  let out = '';
  for (let i = 0; i < HASHED_KEYS.length; i++) {
    const k = HASHED_KEYS[i]!;
    const v: unknown = k === 'v' ? 1 : k === 'at' ? row.at.toISOString() : (row[k] ?? null);
    out += HASHED_PREFIXES[i]! + (v !== null && typeof v === 'object' ? canonicalJson(v) : JSON.stringify(v));
  }
  return out + '}';
}

export function rowHash(row: Omit<ChainedRow, 'hash'>): string {
  return createHash('sha256').update(canonicalRow(row)).digest('hex');
}

/** Milliseconds only: both drivers return timestamptz at millisecond precision through Date. */
const ms = (d: Date) => new Date(Math.floor(d.getTime()));
const count = (n: number | undefined) => (n === undefined ? null : String(Math.max(0, Math.round(n))));

/**
 * The row as it can be stored whatever the request held: PostgreSQL text and JSON refuse NUL and
 * lone surrogates, and a refused insert would lose the row of exactly the request worth seeing.
 * Each affected string gets U+FFFD in their place; `detail.raw_sha256` keeps the SHA-256 of each
 * raw value (UTF-16 code units as JSON.stringify escapes them), by column or detail path, so an
 * investigator can match a raw value without the row holding it.
 */
export function storableContent(c: AuditContent): AuditContent {
  const hashes: Record<string, string> = {};
  const fix = (v: string, where: string): string => {
    if (!hasUnstorableText(v)) return v;
    hashes[where] = createHash('sha256').update(JSON.stringify(v)).digest('hex');
    return replaceUnstorable(v);
  };
  const out = { ...c };
  for (const k of TEXT_COLUMNS) {
    const v = out[k];
    if (typeof v === 'string') out[k] = fix(v, k);
  }
  if (out.groups) out.groups = out.groups.map((g, i) => fix(g, `groups.${i}`));
  if (out.detail) out.detail = storableJson(out.detail, 'detail', fix) as Record<string, unknown>;
  if (Object.keys(hashes).length === 0) return c;
  out.detail = { ...(out.detail ?? {}), raw_sha256: hashes };
  return out;
}

const TEXT_COLUMNS = ['event', 'request_id', 'sub', 'email', 'actor', 'surface', 'session_id', 'model', 'upstream', 'outcome', 'reason'] as const;

function storableJson(v: unknown, path: string, fix: (s: string, where: string) => string): unknown {
  if (typeof v === 'string') return fix(v, path);
  if (Array.isArray(v)) return v.map((x, i) => storableJson(x, `${path}.${i}`, fix));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = fix(k, `${path}.key:${replaceUnstorable(k)}`);
      out[key] = storableJson(x, `${path}.${key}`, fix);
    }
    return out;
  }
  return v;
}

export function inferenceContent(e: InferenceEvent): AuditContent {
  const u = e.usage;
  const detail: Record<string, unknown> = { operation: e.operation, stream: e.stream };
  if (e.upstreamModel) detail.upstream_model = e.upstreamModel;
  if (e.attempts !== undefined) detail.attempts = e.attempts;
  if (e.ttfbMs !== undefined) detail.ttfb_ms = Math.round(e.ttfbMs);
  if (u?.web_search_requests) detail.web_search_requests = u.web_search_requests;
  if (u?.cache_creation_1h_input_tokens) detail.cache_creation_1h_tokens = u.cache_creation_1h_input_tokens;
  if (u?.reasoning_output_tokens !== undefined) detail.reasoning_tokens = u.reasoning_output_tokens;
  if (e.clientDetail) Object.assign(detail, e.clientDetail);
  return storableContent({
    at: ms(e.at),
    event: 'inference',
    request_id: e.requestId,
    sub: e.principal?.sub ?? null,
    email: e.principal?.email ?? null,
    groups: e.principal ? [...e.principal.groups] : null,
    actor: null,
    surface: e.clientSurface ?? null,
    session_id: e.clientSessionId ?? null,
    model: e.model ?? null,
    upstream: e.upstream ?? null,
    status: e.status,
    outcome: e.outcome,
    reason: e.reason ?? null,
    input_tokens: count(u?.input_tokens),
    output_tokens: count(u?.output_tokens),
    cache_read_tokens: count(u?.cache_read_input_tokens),
    cache_creation_tokens: count(u?.cache_creation_input_tokens),
    cost_micros: e.costMicros === undefined ? null : String(Math.round(e.costMicros)),
    latency_ms: Math.round(e.latencyMs),
    detail,
  });
}

export function gatewayEventContent(e: GatewayEvent): AuditContent {
  return storableContent({
    at: ms(e.at),
    event: e.name,
    request_id: e.requestId ?? null,
    sub: e.principal?.sub ?? null,
    email: e.principal?.email ?? null,
    groups: e.principal?.groups ? [...e.principal.groups] : null,
    actor: e.actor ?? null,
    surface: e.surface ?? null,
    session_id: e.sessionId ?? null,
    model: null,
    upstream: null,
    status: null,
    outcome: e.outcome,
    reason: e.reason ?? null,
    input_tokens: null,
    output_tokens: null,
    cache_read_tokens: null,
    cache_creation_tokens: null,
    cost_micros: null,
    latency_ms: null,
    detail: e.detail ? scrub(e.detail) : null,
  });
}

const SECRET_KEY = /token|secret|password|api_?key|authorization|cookie|code_verifier|device_code/i;

/** Defence in depth: the emitters promise no secrets, but a key that looks like one is dropped. */
function scrub(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) {
    if (SECRET_KEY.test(k) || v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? scrub(v as Record<string, unknown>) : v;
  }
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

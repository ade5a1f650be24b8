/**
 * One audit row as the outside world sees it: the Admin API's entries and every sink's event
 * body (docs/audit.md, "Event schema"). Rows hold no prompt content and no secrets by
 * construction (audit/record.ts), and this shape adds none.
 */
import type { AuditEntry } from '../protocol/audit';
import { normaliseRow } from './record';

export function toEntry(raw: Record<string, unknown>): AuditEntry {
  const r = normaliseRow(raw);
  const hasTokens = r.input_tokens !== null || r.output_tokens !== null || r.cache_read_tokens !== null || r.cache_creation_tokens !== null;
  return {
    type: 'audit_entry',
    id: String(raw.id),
    at: r.at.toISOString(),
    event: r.event,
    request_id: r.request_id,
    principal: r.sub === null ? null : { sub: r.sub, email: r.email, groups: r.groups },
    actor: r.actor,
    surface: r.surface,
    session_id: r.session_id,
    model: r.model,
    upstream: r.upstream,
    status: r.status,
    outcome: r.outcome,
    reason: r.reason,
    tokens: hasTokens
      ? {
          input: Number(r.input_tokens ?? 0),
          output: Number(r.output_tokens ?? 0),
          cache_read: Number(r.cache_read_tokens ?? 0),
          cache_creation: Number(r.cache_creation_tokens ?? 0),
        }
      : null,
    cost_micros: r.cost_micros,
    latency_ms: r.latency_ms,
    detail: r.detail,
    chain: r.chain,
    seq: r.seq,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * Audit schema (versions 30-39). One table holds every chain: rows of one chain are linked by
 * `prev_hash`, and `(chain, seq)` is unique so a replayed or duplicated row is visible too.
 * Columns hold only values that both PostgreSQL and PGlite return exactly as written
 * (text, bigint as string, jsonb, millisecond timestamps), so the hash recomputes on read.
 */
import type { Migration } from '../store/migrate';

export const AUDIT_MIGRATIONS: Migration[] = [
  {
    version: 30,
    name: 'audit_log',
    sql: `
CREATE TABLE IF NOT EXISTS audit_log (
  id bigserial PRIMARY KEY,
  chain text NOT NULL,
  seq bigint NOT NULL,
  at timestamptz NOT NULL,
  event text NOT NULL,
  request_id text,
  sub text,
  email text,
  groups jsonb,
  actor text,
  surface text,
  session_id text,
  model text,
  upstream text,
  status integer,
  outcome text NOT NULL,
  reason text,
  input_tokens bigint,
  output_tokens bigint,
  cache_read_tokens bigint,
  cache_creation_tokens bigint,
  cost_micros bigint,
  latency_ms integer,
  detail jsonb,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_sub_id ON audit_log (sub, id);
`,
  },
  {
    // The writer's group-commit INSERT as a function: PL/pgSQL plans it once per connection
    // instead of once per statement, and the commit setting rides along. Measured 0.08-0.2 ms
    // less per audit commit, which every response waits for (docs/performance.md section 6).
    version: 31,
    name: 'audit_insert_function',
    sql: `
CREATE OR REPLACE FUNCTION tollgate_audit_insert(batch jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- Committed, not fsynced (docs/operations.md, "Durability"): for this transaction only.
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO audit_log (chain, seq, at, event, request_id, sub, email, groups, actor, surface, session_id, model, upstream, status, outcome, reason, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_micros, latency_ms, detail, prev_hash, hash)
  SELECT chain, seq, at, event, request_id, sub, email, groups, actor, surface, session_id, model, upstream, status, outcome, reason, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_micros, latency_ms, detail, prev_hash, hash FROM jsonb_to_recordset(batch) AS r(chain text, seq bigint, at timestamptz, event text, request_id text, sub text, email text, groups jsonb, actor text, surface text, session_id text, model text, upstream text, status integer, outcome text, reason text, input_tokens bigint, output_tokens bigint, cache_read_tokens bigint, cache_creation_tokens bigint, cost_micros bigint, latency_ms integer, detail jsonb, prev_hash text, hash text)
  ORDER BY seq;
END
$$;
`,
  },
  {
    // The audit spool's exactly-once key (audit/spool.ts): a replayed record's id is inserted in
    // the transaction that replays it, so a record is never applied twice.
    version: 32,
    name: 'audit_replay',
    sql: `
CREATE TABLE IF NOT EXISTS tollgate_audit_replay (
  id text PRIMARY KEY,
  replayed_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    // Audit sinks (audit/sinks/). `txid` is the inserting transaction's id: a shipper reads only
    // rows of transactions older than every transaction still running (pg_snapshot_xmin), so a
    // row that commits after a newer one is never skipped, and no writer waits for the shipper.
    // Added without a default first so existing rows are not rewritten (NULL reads as 0).
    // Each sink's cursor and lease live in tollgate_audit_sink (one shipper per sink at a time).
    version: 33,
    name: 'audit_sinks',
    sql: `
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS txid xid8;
ALTER TABLE audit_log ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS audit_log_txid ON audit_log ((coalesce(txid, '0'::xid8)), id);
CREATE TABLE IF NOT EXISTS tollgate_audit_sink (
  sink text PRIMARY KEY,
  txid xid8 NOT NULL DEFAULT '0',
  last_id bigint NOT NULL DEFAULT 0,
  delivered bigint NOT NULL DEFAULT 0,
  owner text,
  lease_until timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    // The console's audit page and streamed exports page on the key (at, id), and the Users page
    // reads last-seen per user by (sub, at). (at, id) serves every range read that (at) served, so
    // (at) goes: one index more to maintain per row, not two. The sessions index is partial: only
    // sign-in and refresh rows enter it, so the Users page lists sessions without reading requests.
    version: 34,
    name: 'audit_keyset_indexes',
    sql: `
CREATE INDEX IF NOT EXISTS audit_log_at_id ON audit_log (at, id);
CREATE INDEX IF NOT EXISTS audit_log_sub_at_id ON audit_log (sub, at, id);
DROP INDEX IF EXISTS audit_log_at;
CREATE INDEX IF NOT EXISTS audit_log_sessions ON audit_log (sub, at) INCLUDE (session_id, surface, event, outcome)
  WHERE session_id IS NOT NULL AND event IN ('session.mint', 'session.refresh', 'console.sign_in');
`,
  },
];

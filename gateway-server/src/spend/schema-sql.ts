/**
 * Spend tables and the three SQL functions that make caps hard across replicas. Each function is
 * one statement from the gateway's point of view, so each is one round trip and one transaction:
 *
 * - tollgate_spend_reserve: lock the caller's period counters (in bucket order, so concurrent
 *   reserves and settlements never deadlock), refuse if any cap would be exceeded by
 *   spent + reserved + this request's worst case, else add the reservation. Row locks serialise
 *   replicas; there is no read-then-write window.
 * - tollgate_spend_settle: a batch of settlements (group commit): drop each reservation, move its
 *   real cost into `spent`, write the ledger row. A reservation already reconciled is corrected
 *   to the real cost instead of being charged twice.
 * - tollgate_spend_reconcile: charge expired reservations (crashed replica) their documented
 *   estimate and release the rest. SKIP LOCKED lets every replica run it at once.
 */
export const SPEND_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS spend_limits (
  id text PRIMARY KEY,
  scope_type text NOT NULL CHECK (scope_type IN ('organization', 'rbac_group', 'user')),
  scope_id text NOT NULL DEFAULT '',
  period text NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
  amount_cents bigint CHECK (amount_cents IS NULL OR amount_cents >= 0),
  currency text NOT NULL DEFAULT 'USD',
  is_enabled boolean NOT NULL DEFAULT true,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (scope_type, scope_id, period)
);
CREATE TABLE IF NOT EXISTS admin_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  target_id text,
  before jsonb,
  after jsonb,
  request_id text
);
CREATE TABLE IF NOT EXISTS spend_counters (
  principal text NOT NULL,
  bucket text NOT NULL,
  spent_micros bigint NOT NULL DEFAULT 0,
  reserved_micros bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (principal, bucket)
);
CREATE TABLE IF NOT EXISTS spend_reservations (
  id text PRIMARY KEY,
  principal text NOT NULL,
  buckets text[] NOT NULL,
  amount_micros bigint NOT NULL,
  estimate_micros bigint NOT NULL,
  model text,
  request_id text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_reservations_expires ON spend_reservations (expires_at);
CREATE TABLE IF NOT EXISTS spend_ledger (
  id text PRIMARY KEY,
  principal text NOT NULL,
  request_id text,
  model text,
  upstream text,
  cost_micros bigint NOT NULL,
  reserved_micros bigint NOT NULL DEFAULT 0,
  estimated boolean NOT NULL DEFAULT false,
  reconciled boolean NOT NULL DEFAULT false,
  usage jsonb,
  buckets text[] NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_ledger_principal_at ON spend_ledger (principal, at);
CREATE TABLE IF NOT EXISTS spend_principals (
  sub text PRIMARY KEY,
  email text,
  name text,
  groups jsonb NOT NULL DEFAULT '[]',
  last_seen timestamptz NOT NULL
);
`;

export const SPEND_FUNCTIONS_SQL = `
CREATE OR REPLACE FUNCTION tollgate_spend_reserve(
  p_principal text, p_id text, p_buckets text[], p_caps bigint[], p_amount bigint, p_estimate bigint,
  p_model text, p_request_id text, p_now timestamptz, p_expires timestamptz
) RETURNS TABLE (ok boolean, bucket text, spent bigint, reserved bigint, cap bigint)
LANGUAGE plpgsql AS $$
DECLARE
  refused boolean;
BEGIN
  INSERT INTO spend_counters (principal, bucket)
    SELECT p_principal, b FROM unnest(p_buckets) AS b ORDER BY b
    ON CONFLICT DO NOTHING;
  -- Lock in bucket order (every writer does), then decide on the locked values.
  SELECT coalesce(bool_or(k.cap IS NOT NULL AND c.spent_micros + c.reserved_micros + p_amount > k.cap), false) INTO refused
    FROM (SELECT sc.bucket, sc.spent_micros, sc.reserved_micros FROM spend_counters sc
          WHERE sc.principal = p_principal AND sc.bucket = ANY (p_buckets) ORDER BY sc.bucket FOR UPDATE) c
    JOIN unnest(p_buckets, p_caps) AS k(bucket, cap) ON k.bucket = c.bucket;
  IF NOT refused THEN
    UPDATE spend_counters sc SET reserved_micros = sc.reserved_micros + p_amount
      WHERE sc.principal = p_principal AND sc.bucket = ANY (p_buckets);
    INSERT INTO spend_reservations (id, principal, buckets, amount_micros, estimate_micros, model, request_id, created_at, expires_at)
      VALUES (p_id, p_principal, p_buckets, p_amount, p_estimate, p_model, p_request_id, p_now, p_expires);
  END IF;
  RETURN QUERY SELECT NOT refused, c.bucket, c.spent_micros, c.reserved_micros, k.cap
    FROM spend_counters c JOIN unnest(p_buckets, p_caps) AS k(bucket, cap) ON k.bucket = c.bucket
    WHERE c.principal = p_principal ORDER BY c.bucket;
END;
$$;

CREATE OR REPLACE FUNCTION tollgate_spend_charge(
  p_id text, p_principal text, p_buckets text[], p_cost bigint, p_force boolean, p_estimated boolean,
  p_request_id text, p_model text, p_upstream text, p_usage jsonb, p_at timestamptz
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  held bigint;
  res_buckets text[];
  prior bigint;
  delta bigint;
  was_reconciled boolean;
BEGIN
  DELETE FROM spend_reservations WHERE id = p_id RETURNING amount_micros, buckets INTO held, res_buckets;
  IF NOT FOUND THEN
    -- Reconciled already (the replica looked dead): correct the estimate to the real cost.
    SELECT l.cost_micros, l.buckets, l.reconciled INTO prior, res_buckets, was_reconciled FROM spend_ledger l WHERE l.id = p_id FOR UPDATE;
    IF FOUND AND NOT was_reconciled THEN
      RETURN 0; -- settled already: never charge twice
    END IF;
    IF FOUND THEN
      PERFORM 1 FROM spend_counters WHERE principal = p_principal AND bucket = ANY (res_buckets) ORDER BY bucket FOR UPDATE;
      delta := p_cost - prior;
      UPDATE spend_counters SET spent_micros = spent_micros + delta WHERE principal = p_principal AND bucket = ANY (res_buckets);
      UPDATE spend_ledger SET cost_micros = p_cost, estimated = p_estimated, reconciled = false, usage = p_usage, upstream = p_upstream WHERE id = p_id;
      RETURN delta;
    END IF;
    IF NOT p_force THEN
      RETURN 0;
    END IF;
    held := 0;
    res_buckets := p_buckets;
  END IF;
  INSERT INTO spend_counters AS sc (principal, bucket, spent_micros, reserved_micros)
    SELECT p_principal, b, p_cost, 0 FROM unnest(res_buckets) AS b ORDER BY b
    ON CONFLICT (principal, bucket) DO UPDATE
      SET spent_micros = sc.spent_micros + p_cost, reserved_micros = sc.reserved_micros - held;
  INSERT INTO spend_ledger (id, principal, request_id, model, upstream, cost_micros, reserved_micros, estimated, usage, buckets, at)
    VALUES (p_id, p_principal, p_request_id, p_model, p_upstream, p_cost, held, p_estimated, p_usage, res_buckets, p_at)
    ON CONFLICT (id) DO NOTHING;
  RETURN p_cost;
END;
$$;

CREATE OR REPLACE FUNCTION tollgate_spend_settle(p_items jsonb, p_at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  n integer := 0;
BEGIN
  -- Principal order matches the reserve's lock order, so batches never deadlock each other.
  FOR it IN SELECT e FROM jsonb_array_elements(p_items) AS e ORDER BY e->>'principal', e->>'id' LOOP
    PERFORM tollgate_spend_charge(
      it->>'id', it->>'principal', ARRAY(SELECT jsonb_array_elements_text(it->'buckets')), (it->>'cost')::bigint,
      (it->>'force')::boolean, (it->>'estimated')::boolean, it->>'request_id', it->>'model', it->>'upstream', it->'usage', p_at);
    n := n + 1;
  END LOOP;
  RETURN n;
END;
$$;

CREATE OR REPLACE FUNCTION tollgate_spend_reconcile(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN SELECT * FROM spend_reservations WHERE expires_at <= p_now ORDER BY principal, id FOR UPDATE SKIP LOCKED LOOP
    DELETE FROM spend_reservations WHERE id = r.id;
    PERFORM 1 FROM spend_counters WHERE principal = r.principal AND bucket = ANY (r.buckets) ORDER BY bucket FOR UPDATE;
    UPDATE spend_counters SET spent_micros = spent_micros + r.estimate_micros, reserved_micros = reserved_micros - r.amount_micros
      WHERE principal = r.principal AND bucket = ANY (r.buckets);
    INSERT INTO spend_ledger (id, principal, request_id, model, upstream, cost_micros, reserved_micros, estimated, reconciled, usage, buckets, at)
      VALUES (r.id, r.principal, r.request_id, r.model, NULL, r.estimate_micros, r.amount_micros, true, true, NULL, r.buckets, p_now)
      ON CONFLICT (id) DO NOTHING;
    n := n + 1;
  END LOOP;
  RETURN n;
END;
$$;
`;

/**
 * Leases (enforcement.reservation: lease). A replica holds a slice of a capped caller's remaining
 * allowance (`held_micros`, counted in `reserved_micros` like a reservation) and admits requests
 * from it in memory. Settlements carry the lease's cumulative settled total, so a batch lost with
 * a PostgreSQL crash is repaired by the next one; a lease whose holder stops renewing is
 * forfeited: its whole unsettled slice is charged (a cap must hold even for what a dead replica
 * served), and refunded down to the real total if the holder turns out to be alive.
 *
 * Every function locks a principal's counters (in bucket order) before its lease row, as the
 * reserve does, so grants, settlements and reconciliation on any replica never deadlock.
 */
export const SPEND_LEASES_SQL = `
CREATE TABLE IF NOT EXISTS spend_leases (
  id text PRIMARY KEY,
  principal text NOT NULL,
  buckets text[] NOT NULL,
  holder text NOT NULL,
  held_micros bigint NOT NULL DEFAULT 0,
  settled_micros bigint NOT NULL DEFAULT 0,
  forfeited boolean NOT NULL DEFAULT false,
  forfeit_micros bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_leases_expires ON spend_leases (expires_at);
CREATE INDEX IF NOT EXISTS spend_leases_holder ON spend_leases (holder);

CREATE OR REPLACE FUNCTION tollgate_spend_lease(
  p_lease text, p_principal text, p_holder text, p_buckets text[], p_caps bigint[],
  p_need bigint, p_want bigint, p_now timestamptz, p_expires timestamptz
) RETURNS TABLE (granted bigint, bucket text, spent bigint, reserved bigint, cap bigint)
LANGUAGE plpgsql AS $$
DECLARE
  headroom bigint;
  g bigint := 0;
  was_forfeited boolean;
BEGIN
  INSERT INTO spend_counters (principal, bucket)
    SELECT p_principal, b FROM unnest(p_buckets) AS b ORDER BY b
    ON CONFLICT DO NOTHING;
  SELECT min(k.cap - c.spent_micros - c.reserved_micros) INTO headroom
    FROM (SELECT sc.bucket, sc.spent_micros, sc.reserved_micros FROM spend_counters sc
          WHERE sc.principal = p_principal AND sc.bucket = ANY (p_buckets) ORDER BY sc.bucket FOR UPDATE) c
    JOIN unnest(p_buckets, p_caps) AS k(bucket, cap) ON k.bucket = c.bucket
    WHERE k.cap IS NOT NULL;
  SELECT l.forfeited INTO was_forfeited FROM spend_leases l WHERE l.id = p_lease FOR UPDATE;
  IF was_forfeited THEN
    g := -1;
  ELSIF headroom IS NULL THEN
    g := p_want;
  ELSIF headroom >= p_need THEN
    -- Never more than a quarter of what is left (other replicas may need some), never less than
    -- this request needs: near a cap a lease shrinks to one request's worst case.
    g := LEAST(headroom, GREATEST(p_need, LEAST(p_want, headroom / 4)));
  END IF;
  IF g > 0 THEN
    UPDATE spend_counters sc SET reserved_micros = sc.reserved_micros + g
      WHERE sc.principal = p_principal AND sc.bucket = ANY (p_buckets);
    INSERT INTO spend_leases AS l (id, principal, buckets, holder, held_micros, created_at, expires_at)
      VALUES (p_lease, p_principal, p_buckets, p_holder, g, p_now, p_expires)
      ON CONFLICT (id) DO UPDATE SET held_micros = l.held_micros + g, expires_at = p_expires;
  END IF;
  RETURN QUERY SELECT g, c.bucket, c.spent_micros, c.reserved_micros, k.cap
    FROM spend_counters c JOIN unnest(p_buckets, p_caps) AS k(bucket, cap) ON k.bucket = c.bucket
    WHERE c.principal = p_principal ORDER BY c.bucket;
END;
$$;

CREATE OR REPLACE FUNCTION tollgate_spend_lease_settle(p_lease text, p_total bigint, p_close boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  l spend_leases%ROWTYPE;
  delta bigint;
  moved bigint;
  absorbed bigint;
BEGIN
  SELECT * INTO l FROM spend_leases WHERE id = p_lease;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM 1 FROM spend_counters c WHERE c.principal = l.principal AND c.bucket = ANY (l.buckets) ORDER BY c.bucket FOR UPDATE;
  SELECT * INTO l FROM spend_leases WHERE id = p_lease FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  delta := GREATEST(0, p_total - l.settled_micros);
  moved := LEAST(delta, l.held_micros);
  absorbed := LEAST(delta, l.forfeit_micros);
  IF p_close THEN
    -- Release the whole rest; a forfeit its holder outlived is refunded down to what it settled.
    moved := l.held_micros;
    absorbed := l.forfeit_micros;
  END IF;
  -- The forfeit already charged what it absorbs (or refunds): spent moves by the difference.
  UPDATE spend_counters c SET spent_micros = c.spent_micros + delta - absorbed, reserved_micros = c.reserved_micros - moved
    WHERE c.principal = l.principal AND c.bucket = ANY (l.buckets);
  IF absorbed > 0 THEN
    UPDATE spend_ledger SET cost_micros = cost_micros - absorbed WHERE id = p_lease || ':forfeit';
  END IF;
  IF p_close THEN
    DELETE FROM spend_leases WHERE id = p_lease;
  ELSE
    UPDATE spend_leases SET held_micros = l.held_micros - moved, forfeit_micros = l.forfeit_micros - absorbed,
      settled_micros = GREATEST(l.settled_micros, p_total)
      WHERE id = p_lease;
  END IF;
END;
$$;

CREATE OR REPLACE FUNCTION tollgate_spend_apply(p_items jsonb, p_at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  -- One pass in principal order (the lock order of every other writer): per lease only its
  -- highest cumulative total matters; per-request charges as tollgate_spend_settle does.
  FOR r IN
    SELECT * FROM (
      SELECT e->>'principal' AS principal, 'L' AS kind, e->>'lease' AS id, max((e->>'total')::bigint) AS total,
             bool_or(e->>'k' = 'close') AS closing, NULL::jsonb AS item
        FROM jsonb_array_elements(p_items) AS e WHERE e->>'k' IN ('lease', 'close') GROUP BY 1, 3
      UNION ALL
      SELECT e->>'principal', 'C', e->>'id', NULL, NULL, e
        FROM jsonb_array_elements(p_items) AS e WHERE e->>'k' = 'charge'
    ) x ORDER BY principal, kind DESC, id
  LOOP
    IF r.kind = 'L' THEN
      PERFORM tollgate_spend_lease_settle(r.id, r.total, r.closing);
    ELSE
      PERFORM tollgate_spend_charge(
        r.item->>'id', r.item->>'principal', ARRAY(SELECT jsonb_array_elements_text(r.item->'buckets')), (r.item->>'cost')::bigint,
        (r.item->>'force')::boolean, (r.item->>'estimated')::boolean, r.item->>'request_id', r.item->>'model', r.item->>'upstream', r.item->'usage', p_at);
    END IF;
    n := n + 1;
  END LOOP;
  INSERT INTO spend_ledger (id, principal, request_id, model, upstream, cost_micros, reserved_micros, estimated, usage, buckets, at)
    SELECT e->>'id', e->>'principal', e->>'request_id', e->>'model', e->>'upstream', (e->>'cost')::bigint, 0, (e->>'estimated')::boolean,
           e->'usage', ARRAY(SELECT jsonb_array_elements_text(e->'buckets')), p_at
      FROM jsonb_array_elements(p_items) AS e WHERE e->>'k' = 'lease'
    ON CONFLICT (id) DO NOTHING;
  RETURN n;
END;
$$;

CREATE OR REPLACE FUNCTION tollgate_spend_reconcile_leases(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  cand record;
  l spend_leases%ROWTYPE;
  n integer := 0;
BEGIN
  FOR cand IN SELECT s.id, s.principal, s.buckets FROM spend_leases s WHERE NOT s.forfeited AND s.expires_at <= p_now ORDER BY s.principal, s.id LOOP
    PERFORM 1 FROM spend_counters c WHERE c.principal = cand.principal AND c.bucket = ANY (cand.buckets) ORDER BY c.bucket FOR UPDATE;
    SELECT * INTO l FROM spend_leases WHERE id = cand.id FOR UPDATE;
    CONTINUE WHEN NOT FOUND OR l.forfeited OR l.expires_at > p_now;
    UPDATE spend_counters c SET spent_micros = c.spent_micros + l.held_micros, reserved_micros = c.reserved_micros - l.held_micros
      WHERE c.principal = l.principal AND c.bucket = ANY (l.buckets);
    UPDATE spend_leases SET forfeited = true, forfeit_micros = l.held_micros, held_micros = 0 WHERE id = l.id;
    INSERT INTO spend_ledger (id, principal, request_id, model, upstream, cost_micros, reserved_micros, estimated, reconciled, usage, buckets, at)
      VALUES (l.id || ':forfeit', l.principal, NULL, NULL, NULL, l.held_micros, l.held_micros, true, true, NULL, l.buckets, p_now)
      ON CONFLICT (id) DO NOTHING;
    n := n + 1;
  END LOOP;
  DELETE FROM spend_leases WHERE forfeited AND expires_at <= p_now - interval '1 day';
  RETURN n;
END;
$$;
`;

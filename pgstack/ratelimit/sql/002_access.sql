-- Who may do what in this module, and one convention for the whole SQL API
-- (docs/stack.md#security, schema/sql/003_access.sql):
--  * parameters take bare names, as the docs write them (kv_set(namespace, key, value,
--    ttl, mode)); functions whose parameters were p_-prefixed are made again;
--  * every function pins its search_path (pg_catalog, pgstack, pg_temp last);
--  * the table is the owner's: rate_limit and rate_limit_reset run as the owner;
--  * EXECUTE for readwrite (the API) and readonly (what only reads), never PUBLIC.

-- The functions whose parameters are renamed: dropped and made again below.
DROP FUNCTION pgstack.rate_limit(text, integer, interval, integer, integer);
DROP FUNCTION pgstack.rate_limit_reset(text);

-- Whether a request of `cost` on `key` is allowed under `rate` requests `per` interval,
-- with bursts of up to `burst` (default: rate), and if so counts it.
--   remaining:   requests of cost 1 that would still be allowed now
--   retry_after: when this request would be allowed (0 when it was)
--   reset_after: when the bucket is full again
CREATE FUNCTION pgstack.rate_limit(key text, rate integer, per interval, burst integer DEFAULT NULL, cost integer DEFAULT 1)
RETURNS TABLE (allowed boolean, remaining integer, retry_after interval, reset_after interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_key ALIAS FOR $1;
  p_rate ALIAS FOR $2;
  p_per ALIAS FOR $3;
  p_burst ALIAS FOR $4;
  p_cost ALIAS FOR $5;
  v_burst integer := coalesce(p_burst, p_rate);
  v_now timestamptz := clock_timestamp();  -- real time, even inside a long transaction
  v_t interval;
  v_tau interval;
  v_inc interval;
  v_tat timestamptz;
  v_allowed boolean;
BEGIN
  IF p_key IS NULL OR octet_length(p_key) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'ratelimit: key of % bytes is not valid', coalesce(octet_length(p_key)::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'A key is 1 to 1024 bytes, e.g. ''ip:203.0.113.7''.';
  END IF;
  IF p_rate IS NULL OR p_rate < 1 OR p_per IS NULL OR p_per <= interval '0' THEN
    RAISE EXCEPTION 'ratelimit: rate % per % is not valid', coalesce(p_rate::text, 'NULL'), coalesce(p_per::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Give a rate of at least 1 per a positive interval, e.g. 100 per ''1 minute''.';
  END IF;
  IF v_burst < 1 OR p_cost IS NULL OR p_cost < 0 OR p_cost > v_burst THEN
    RAISE EXCEPTION 'ratelimit: cost % with burst % is not valid', coalesce(p_cost::text, 'NULL'), v_burst
      USING ERRCODE = '22023', HINT = 'burst is at least 1 and cost between 0 and burst; a larger cost could never be allowed.';
  END IF;
  v_t := p_per / p_rate;
  IF v_t < interval '1 microsecond' THEN
    RAISE EXCEPTION 'ratelimit: % per % is more than one a microsecond', p_rate, p_per
      USING ERRCODE = '22023', HINT = 'Give the rate over a longer interval.';
  END IF;
  v_tau := v_t * v_burst;
  v_inc := v_t * p_cost;
  INSERT INTO pgstack.rate_limits AS r (key, tat, allowed)
  VALUES (p_key, v_now + v_inc, true)
  ON CONFLICT (key) DO UPDATE
    SET allowed = greatest(r.tat, v_now) + v_inc - v_tau <= v_now,
        tat = CASE WHEN greatest(r.tat, v_now) + v_inc - v_tau <= v_now THEN greatest(r.tat, v_now) + v_inc ELSE r.tat END
  RETURNING r.tat, r.allowed INTO v_tat, v_allowed;

  allowed := v_allowed;
  remaining := greatest(0, floor(extract(epoch FROM v_now - (v_tat - v_tau)) / extract(epoch FROM v_t)))::integer;
  retry_after := CASE WHEN v_allowed THEN interval '0'
                      ELSE greatest(v_tat, v_now) + v_inc - v_tau - v_now END;
  reset_after := greatest(v_tat - v_now, interval '0');
  RETURN NEXT;
END
$$;

-- Forgets a key: its next request finds a full bucket.
CREATE FUNCTION pgstack.rate_limit_reset(key text)
RETURNS boolean LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (DELETE FROM pgstack.rate_limits WHERE key = rate_limit_reset.key RETURNING 1) SELECT count(*) > 0 FROM gone
$$;

-- The others keep their definitions; they pin their search_path (and run as the owner where
-- they write what only the owner may write).
ALTER FUNCTION pgstack.rate_limit_sweep() SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

-- Who may call what: nobody by default (PUBLIC), readwrite the API, readonly the reads.
REVOKE ALL ON FUNCTION pgstack.rate_limit(text, integer, interval, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.rate_limit_reset(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.rate_limit_sweep() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.rate_limit(text, integer, interval, integer, integer),
  pgstack.rate_limit_reset(text)
  TO readwrite;

-- The table: read by both roles, written only by the functions above.
REVOKE ALL ON pgstack.rate_limits FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.rate_limits TO readwrite, readonly;

-- Rate limiting by GCRA (the generic cell rate algorithm), docs/ratelimit.md. A key
-- keeps one timestamp, its theoretical arrival time (tat): the time at which its
-- bucket would be empty again. A request of cost c is allowed when
--   max(tat, now) + c*T - burst*T <= now        (T = per / rate)
-- and then moves tat to max(tat, now) + c*T. The decision and the update are one
-- INSERT ... ON CONFLICT DO UPDATE, so concurrent callers on one key queue on its row
-- lock and the limit is exact.
--
-- Unlogged: no WAL per decision. A crash of the server empties it, which lets every
-- key start again with a full bucket (documented).
CREATE UNLOGGED TABLE pgstack.rate_limits (
  key text COLLATE "C" PRIMARY KEY,
  tat timestamptz NOT NULL,
  -- The last decision, so that the one statement can return it.
  allowed boolean NOT NULL,
  CONSTRAINT rate_limit_key_length CHECK (octet_length(key) BETWEEN 1 AND 1024)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);
COMMENT ON TABLE pgstack.rate_limits IS 'pgstack ratelimit: one GCRA timestamp per key';

-- Whether a request of p_cost on p_key is allowed under p_rate per p_per with bursts
-- of up to p_burst (default: p_rate), and if so counts it.
--   remaining:   requests of cost 1 that would still be allowed now
--   retry_after: when this request would be allowed (0 when it was)
--   reset_after: when the bucket is full again
CREATE FUNCTION pgstack.rate_limit(p_key text, p_rate integer, p_per interval, p_burst integer DEFAULT NULL,
                                   p_cost integer DEFAULT 1)
RETURNS TABLE (allowed boolean, remaining integer, retry_after interval, reset_after interval)
LANGUAGE plpgsql AS $$
DECLARE
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
CREATE FUNCTION pgstack.rate_limit_reset(p_key text)
RETURNS boolean LANGUAGE sql AS $$
  WITH gone AS (DELETE FROM pgstack.rate_limits WHERE key = p_key RETURNING 1) SELECT count(*) > 0 FROM gone
$$;

-- A key whose tat has passed has a full bucket, the same as no row: remove such rows so
-- the table holds only keys in use. Registered as a maintenance task.
CREATE FUNCTION pgstack.rate_limit_sweep()
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
DECLARE
  v_n bigint;
BEGIN
  DELETE FROM pgstack.rate_limits WHERE tat < clock_timestamp();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END
$$;

SELECT pgstack.register_maintenance_task('rate_limit_sweep', 'pgstack.rate_limit_sweep()', interval '10 seconds');
REVOKE EXECUTE ON FUNCTION pgstack.rate_limit_sweep() FROM PUBLIC;

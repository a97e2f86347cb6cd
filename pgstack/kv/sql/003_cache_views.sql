-- Materialized views as a cache: registered here with an interval, refreshed by the
-- maintenance task cache_refresh_views (docs/kv.md). A view with a unique index on
-- plain columns is refreshed CONCURRENTLY, so readers are never blocked; others take
-- a short exclusive lock while refreshing, as PostgreSQL requires.
CREATE TABLE pgstack.cache_views (
  view regclass PRIMARY KEY,
  every interval NOT NULL,
  next_refresh_at timestamptz NOT NULL DEFAULT now(),
  last_refreshed_at timestamptz,
  last_duration interval,
  last_concurrently boolean,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT cache_view_every_positive CHECK (every > interval '0')
);
COMMENT ON TABLE pgstack.cache_views IS 'pgstack cache: materialized views refreshed on a schedule';

CREATE FUNCTION pgstack.register_materialized_view(p_view regclass, p_every interval)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = p_view AND relkind = 'm') THEN
    RAISE EXCEPTION 'cache: % is not a materialized view', p_view USING ERRCODE = '42809',
      HINT = 'Register a view made with CREATE MATERIALIZED VIEW.';
  END IF;
  IF p_every IS NULL OR p_every <= interval '0' THEN
    RAISE EXCEPTION 'cache: refresh interval % is not positive', coalesce(p_every::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  INSERT INTO pgstack.cache_views (view, every) VALUES (p_view, p_every)
  ON CONFLICT (view) DO UPDATE SET every = excluded.every, next_refresh_at = least(pgstack.cache_views.next_refresh_at, now() + excluded.every);
END
$$;

CREATE FUNCTION pgstack.unregister_materialized_view(p_view regclass)
RETURNS boolean LANGUAGE sql AS $$
  WITH gone AS (DELETE FROM pgstack.cache_views WHERE view = p_view RETURNING 1) SELECT count(*) > 0 FROM gone
$$;

-- Whether REFRESH ... CONCURRENTLY works for the view: populated, with a valid unique
-- index on plain columns and without a predicate.
CREATE FUNCTION pgstack.cache_view_refreshes_concurrently(p_view regclass)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT c.relispopulated AND EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = p_view AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL)
  FROM pg_class c WHERE c.oid = p_view
$$;

-- Refreshes the most overdue registered view, if any is due; one per call so each
-- refresh is its own transaction when run by pgstack.maintain(1). A failed refresh is
-- recorded on the view's row and retried after its interval. Returns views refreshed.
CREATE FUNCTION pgstack.cache_refresh_views()
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_view regclass;
  v_concurrently boolean;
  v_started timestamptz := clock_timestamp();
BEGIN
  -- A dropped view leaves its row (regclass holds no dependency): forget it.
  DELETE FROM pgstack.cache_views v WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = v.view);
  SELECT view INTO v_view FROM pgstack.cache_views
  WHERE next_refresh_at <= clock_timestamp() ORDER BY next_refresh_at LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN RETURN 0; END IF;
  v_concurrently := pgstack.cache_view_refreshes_concurrently(v_view);
  BEGIN
    EXECUTE format('REFRESH MATERIALIZED VIEW %s %s', CASE WHEN v_concurrently THEN 'CONCURRENTLY' ELSE '' END, v_view);
  EXCEPTION WHEN OTHERS THEN
    UPDATE pgstack.cache_views SET next_refresh_at = clock_timestamp() + every, last_error = SQLERRM,
           last_duration = clock_timestamp() - v_started
     WHERE view = v_view;
    RETURN 0;
  END;
  UPDATE pgstack.cache_views
     SET next_refresh_at = clock_timestamp() + every, last_refreshed_at = v_started,
         last_duration = clock_timestamp() - v_started, last_concurrently = v_concurrently, last_error = NULL
   WHERE view = v_view;
  RETURN 1;
END
$$;

SELECT pgstack.register_maintenance_task('cache_refresh_views', 'pgstack.cache_refresh_views()', interval '1 second');

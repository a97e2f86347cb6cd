-- The API functions that call kv's internal helpers (kv_check_write, kv_integer) and
-- the core's formatting helpers run as the owner, so that the helpers need not be
-- executable by any application role. (kv_require_namespace stays granted: it is API,
-- the check a client makes before it uses a namespace; docs/kv.md lists it.) None of them
-- builds SQL from its arguments or depends on who calls it: a key is written or read
-- the same way whoever asks, and only roles granted the function may ask.
ALTER FUNCTION pgstack.kv_set(text, text, bytea, interval, text) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_mset(text, text[], bytea[], interval) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_incr(text, text, bigint, interval) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_compare_and_set(text, text, bytea, bytea, interval) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_expire(text, text, interval) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_try_lock(text, text, text, interval) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_cache_put(text, text, bytea, interval, interval) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
-- Read-only (STABLE) and granted to readonly as well: doctor and advise call them.
ALTER FUNCTION pgstack.kv_health(jsonb) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.kv_advice(jsonb, jsonb, double precision) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

REVOKE EXECUTE ON FUNCTION pgstack.kv_check_write(text, interval) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.kv_integer(bytea, text) FROM readwrite, readonly;

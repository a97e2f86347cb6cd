-- Who may do what in this module, and one convention for the whole SQL API
-- (docs/stack.md#security, schema/sql/003_access.sql):
--  * parameters take bare names, as the docs write them (kv_set(namespace, key, value,
--    ttl, mode)); functions whose parameters were p_-prefixed are made again;
--  * every function pins its search_path (pg_catalog, pgstack, pg_temp last);
--  * keys and values are the application's own data: readwrite writes kv_entries
--    and kv_locks directly (the C++ client's batched upserts do), so kv's functions run
--    as the caller; the namespace and view registries are the owner's, changed by
--    functions that run as the owner and check what the caller may do.
--  * EXECUTE for readwrite (the API) and readonly (what only reads), never PUBLIC.

-- The functions whose parameters are renamed: dropped and made again below.
DROP FUNCTION pgstack.kv_create_namespace(text, boolean);
DROP FUNCTION pgstack.kv_drop_namespace(text);
DROP FUNCTION pgstack.kv_flush(text);
DROP FUNCTION pgstack.kv_require_namespace(text);
DROP FUNCTION pgstack.kv_check_write(text, interval);
DROP FUNCTION pgstack.kv_lookup(text, text[]);
DROP FUNCTION pgstack.kv_get(text, text);
DROP FUNCTION pgstack.kv_get_text(text, text);
DROP FUNCTION pgstack.kv_get_json(text, text);
DROP FUNCTION pgstack.kv_mget(text, text[]);
DROP FUNCTION pgstack.kv_exists(text, text);
DROP FUNCTION pgstack.kv_ttl(text, text);
DROP FUNCTION pgstack.kv_keys(text, text, text, integer);
DROP FUNCTION pgstack.kv_set(text, text, bytea, interval, text);
DROP FUNCTION pgstack.kv_set(text, text, text, interval, text);
DROP FUNCTION pgstack.kv_set(text, text, jsonb, interval, text);
DROP FUNCTION pgstack.kv_mset(text, text[], bytea[], interval);
DROP FUNCTION pgstack.kv_delete(text, text[]);
DROP FUNCTION pgstack.kv_delete(text, text);
DROP FUNCTION pgstack.kv_integer(bytea, text);
DROP FUNCTION pgstack.kv_incr(text, text, bigint, interval);
DROP FUNCTION pgstack.kv_compare_and_set(text, text, bytea, bytea, interval);
DROP FUNCTION pgstack.kv_expire(text, text, interval);
DROP FUNCTION pgstack.kv_try_lock(text, text, text, interval);
DROP FUNCTION pgstack.kv_unlock(text, text, text);
DROP FUNCTION pgstack.kv_cache_put(text, text, bytea, interval, interval);
DROP FUNCTION pgstack.register_materialized_view(regclass, interval);
DROP FUNCTION pgstack.unregister_materialized_view(regclass);
DROP FUNCTION pgstack.cache_view_refreshes_concurrently(regclass);

-- The kv SQL API (docs/kv.md has the reference). kv_lookup, the read the C++ client
-- sends, is a plain SQL function the planner inlines into the caller's query (so it
-- alone does not pin a search_path, which would rule inlining out); writes are
-- PL/pgSQL, whose plans are cached per session. Every write checks its input first and raises a clear error
-- (22023 bad value, 42704 unknown namespace) before it changes anything.

-- Creates a namespace (its partition, unlogged unless logged). Idempotent; asking
-- again with the other persistence is an error, because switching it would rewrite
-- (or lose) the data.
CREATE FUNCTION pgstack.kv_create_namespace(name text, logged boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
  p_logged ALIAS FOR $2;
  v_logged boolean;
BEGIN
  IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'kv: namespace name % is not valid', coalesce(quote_literal(p_name), 'NULL')
      USING ERRCODE = '22023', HINT = 'Use 1 to 48 characters: lower-case letters, digits and _, starting with a letter.';
  END IF;
  -- Serialises concurrent creators of one namespace.
  PERFORM pg_advisory_xact_lock(hashtext('pgstack.kv_namespace'), hashtext(p_name));
  SELECT logged INTO v_logged FROM pgstack.kv_namespaces WHERE name = p_name;
  IF FOUND THEN
    IF v_logged IS DISTINCT FROM p_logged THEN
      RAISE EXCEPTION 'kv: namespace % exists and is %', p_name, CASE WHEN v_logged THEN 'logged' ELSE 'unlogged' END
        USING ERRCODE = '55000', HINT = 'Use another namespace, or drop this one first (kv_drop_namespace deletes its keys).';
    END IF;
    RETURN;
  END IF;
  INSERT INTO pgstack.kv_namespaces (name, logged) VALUES (p_name, p_logged);
  -- fillfactor 80 leaves room on each page, so overwriting a key is a HOT update (no
  -- index write); autovacuum runs at 2% dead rather than 20%.
  EXECUTE format('CREATE %s TABLE pgstack.%I PARTITION OF pgstack.kv_entries FOR VALUES IN (%L) '
                 'WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, '
                 'autovacuum_analyze_scale_factor = 0.05)',
                 CASE WHEN p_logged THEN '' ELSE 'UNLOGGED' END, 'kv_ns_' || p_name, p_name);
END
$$;

-- Drops a namespace and every key in it.
CREATE FUNCTION pgstack.kv_drop_namespace(name text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
BEGIN
  IF p_name = 'default' THEN
    RAISE EXCEPTION 'kv: the default namespace cannot be dropped' USING ERRCODE = '55000',
      HINT = 'kv_flush(''default'') deletes its keys.';
  END IF;
  DELETE FROM pgstack.kv_namespaces WHERE name = p_name;
  IF NOT FOUND THEN RETURN false; END IF;
  EXECUTE format('DROP TABLE pgstack.%I', 'kv_ns_' || p_name);
  DELETE FROM pgstack.kv_locks WHERE namespace = p_name;
  RETURN true;
END
$$;

-- Deletes every key of a namespace at once (TRUNCATE of its partition).
CREATE FUNCTION pgstack.kv_flush(name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
BEGIN
  PERFORM pgstack.kv_require_namespace(p_name);
  EXECUTE format('TRUNCATE pgstack.%I', 'kv_ns_' || p_name);
END
$$;

CREATE FUNCTION pgstack.kv_require_namespace(name text)
RETURNS void LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
BEGIN
  PERFORM 1 FROM pgstack.kv_namespaces WHERE name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'kv: namespace % does not exist', coalesce(quote_literal(p_name), 'NULL')
      USING ERRCODE = '42704', HINT = 'Create it with pgstack.kv_create_namespace(name, logged), or use ''default''.';
  END IF;
END
$$;

-- The checks every write makes; raises 22023 with what is wrong.
CREATE FUNCTION pgstack.kv_check_write(key text, ttl interval)
RETURNS void LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_key ALIAS FOR $1;
  p_ttl ALIAS FOR $2;
BEGIN
  IF p_key IS NULL OR octet_length(p_key) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'kv: key of % bytes is not valid', coalesce(octet_length(p_key)::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'A key is 1 to 1024 bytes; hash longer identifiers into a key.';
  END IF;
  IF p_ttl IS NOT NULL AND p_ttl <= interval '0' THEN
    RAISE EXCEPTION 'kv: ttl % is not positive', p_ttl
      USING ERRCODE = '22023', HINT = 'Pass a positive ttl, or NULL for a key that never expires; kv_delete removes a key.';
  END IF;
END
$$;

-- ---- reads -------------------------------------------------------------------------

-- The live entries among keys (absent and expired keys give no row). Inlined into
-- the caller's query: one index probe per key.
CREATE FUNCTION pgstack.kv_lookup(namespace text, keys text[])
RETURNS TABLE (key text, value bytea, expires_at timestamptz, refresh_at timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT e.key, e.value, e.expires_at, e.refresh_at FROM pgstack.kv_entries e
  WHERE e.namespace = kv_lookup.namespace AND e.key = ANY (kv_lookup.keys) AND (e.expires_at IS NULL OR e.expires_at > now())
$$;

CREATE FUNCTION pgstack.kv_get(namespace text, key text)
RETURNS bytea LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
BEGIN
  RETURN (SELECT e.value FROM pgstack.kv_entries e WHERE e.namespace = p_namespace AND e.key = p_key
           AND (e.expires_at IS NULL OR e.expires_at > now()));
END
$$;

CREATE FUNCTION pgstack.kv_get_text(namespace text, key text)
RETURNS text LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT convert_from(pgstack.kv_get(kv_get_text.namespace, kv_get_text.key), 'UTF8') $$;

CREATE FUNCTION pgstack.kv_get_json(namespace text, key text)
RETURNS jsonb LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT convert_from(pgstack.kv_get(kv_get_json.namespace, kv_get_json.key), 'UTF8')::jsonb $$;

-- Values of keys in their order, NULL for an absent or expired key.
CREATE FUNCTION pgstack.kv_mget(namespace text, keys text[])
RETURNS TABLE (key text, value bytea)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT k.key, e.value
  FROM unnest(kv_mget.keys) WITH ORDINALITY AS k(key, n)
  LEFT JOIN pgstack.kv_entries e
    ON e.namespace = kv_mget.namespace AND e.key = k.key AND (e.expires_at IS NULL OR e.expires_at > now())
  ORDER BY k.n
$$;

CREATE FUNCTION pgstack.kv_exists(namespace text, key text)
RETURNS boolean LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM pgstack.kv_lookup(kv_exists.namespace, ARRAY[kv_exists.key]))
$$;

-- Time left before the key expires; NULL when it never expires or does not exist
-- (kv_exists tells the two apart).
CREATE FUNCTION pgstack.kv_ttl(namespace text, key text)
RETURNS interval LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT l.expires_at - now() FROM pgstack.kv_lookup(kv_ttl.namespace, ARRAY[kv_ttl.key]) l
$$;

-- Up to `max_rows` live keys after `after` that start with `prefix`, in key order
-- (paging through a namespace).
CREATE FUNCTION pgstack.kv_keys(namespace text, prefix text DEFAULT '', after text DEFAULT '', max_rows integer DEFAULT 1000)
RETURNS TABLE (key text, expires_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT e.key, e.expires_at FROM pgstack.kv_entries e
  WHERE e.namespace = kv_keys.namespace AND e.key > kv_keys.after AND starts_with(e.key, kv_keys.prefix)
    AND (e.expires_at IS NULL OR e.expires_at > now())
  ORDER BY e.key
  LIMIT kv_keys.max_rows
$$;

-- ---- writes ------------------------------------------------------------------------

-- Sets a key. `mode`: 'always'; 'if_absent' (an expired key counts as absent: SET NX);
-- 'if_present' (SET XX). Returns whether it wrote. A new value replaces the expiry
-- too: ttl NULL makes the key permanent.
CREATE FUNCTION pgstack.kv_set(namespace text, key text, value bytea, ttl interval DEFAULT NULL, mode text DEFAULT 'always')
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
  p_value ALIAS FOR $3;
  p_ttl ALIAS FOR $4;
  p_mode ALIAS FOR $5;
BEGIN
  -- The checks inline first, and the function that explains only when one fails: a
  -- nested call costs about a tenth of a set.
  IF p_key IS NULL OR octet_length(p_key) NOT BETWEEN 1 AND 1024 OR p_ttl <= interval '0' THEN
    PERFORM pgstack.kv_check_write(p_key, p_ttl);
  END IF;
  IF p_value IS NULL THEN
    RAISE EXCEPTION 'kv: value is NULL' USING ERRCODE = '22004', HINT = 'Use kv_delete to remove a key.';
  END IF;
  PERFORM 1 FROM pgstack.kv_namespaces WHERE name = p_namespace;
  IF NOT FOUND THEN PERFORM pgstack.kv_require_namespace(p_namespace); END IF;
  IF p_mode = 'always' THEN
    INSERT INTO pgstack.kv_entries AS e (namespace, key, value, expires_at)
    VALUES (p_namespace, p_key, p_value, now() + p_ttl)
    ON CONFLICT (namespace, key) DO UPDATE
      SET value = excluded.value, expires_at = excluded.expires_at, refresh_at = NULL;
    RETURN true;
  ELSIF p_mode = 'if_absent' THEN
    INSERT INTO pgstack.kv_entries AS e (namespace, key, value, expires_at)
    VALUES (p_namespace, p_key, p_value, now() + p_ttl)
    ON CONFLICT (namespace, key) DO UPDATE
      SET value = excluded.value, expires_at = excluded.expires_at, refresh_at = NULL
      WHERE e.expires_at <= now();
    RETURN FOUND;
  ELSIF p_mode = 'if_present' THEN
    UPDATE pgstack.kv_entries e SET value = p_value, expires_at = now() + p_ttl, refresh_at = NULL
    WHERE e.namespace = p_namespace AND e.key = p_key AND (e.expires_at IS NULL OR e.expires_at > now());
    RETURN FOUND;
  END IF;
  RAISE EXCEPTION 'kv: mode % is not one of always, if_absent, if_present', coalesce(quote_literal(p_mode), 'NULL')
    USING ERRCODE = '22023';
END
$$;

CREATE FUNCTION pgstack.kv_set(namespace text, key text, value text, ttl interval DEFAULT NULL, mode text DEFAULT 'always')
RETURNS boolean LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pgstack.kv_set(kv_set.namespace, kv_set.key, convert_to(kv_set.value, 'UTF8'), kv_set.ttl, kv_set.mode)
$$;

CREATE FUNCTION pgstack.kv_set(namespace text, key text, value jsonb, ttl interval DEFAULT NULL, mode text DEFAULT 'always')
RETURNS boolean LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pgstack.kv_set(kv_set.namespace, kv_set.key, convert_to(kv_set.value::text, 'UTF8'), kv_set.ttl, kv_set.mode)
$$;

-- Sets many keys in one statement, all with the same ttl. A key given twice takes its
-- last value. Returns how many keys were written.
CREATE FUNCTION pgstack.kv_mset(namespace text, keys text[], vals bytea[], ttl interval DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_keys ALIAS FOR $2;
  p_values ALIAS FOR $3;
  p_ttl ALIAS FOR $4;
  v_count bigint;
  v_bad text;
BEGIN
  IF cardinality(p_keys) IS DISTINCT FROM cardinality(p_values) THEN
    RAISE EXCEPTION 'kv: % keys but % values', cardinality(p_keys), cardinality(p_values)
      USING ERRCODE = '22023', HINT = 'Pass one value per key, in the same order.';
  END IF;
  PERFORM pgstack.kv_check_write('k', p_ttl);
  SELECT k INTO v_bad FROM unnest(p_keys) k WHERE k IS NULL OR octet_length(k) NOT BETWEEN 1 AND 1024 LIMIT 1;
  IF FOUND THEN PERFORM pgstack.kv_check_write(v_bad, NULL); END IF;
  IF array_position(p_values, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'kv: value % is NULL', array_position(p_values, NULL) USING ERRCODE = '22004',
      HINT = 'Use kv_delete to remove keys.';
  END IF;
  PERFORM pgstack.kv_require_namespace(p_namespace);
  INSERT INTO pgstack.kv_entries AS e (namespace, key, value, expires_at)
  SELECT DISTINCT ON (k.key) p_namespace, k.key, k.value, now() + p_ttl
  FROM unnest(p_keys, p_values) WITH ORDINALITY AS k(key, value, n)
  ORDER BY k.key, k.n DESC
  ON CONFLICT (namespace, key) DO UPDATE
    SET value = excluded.value, expires_at = excluded.expires_at, refresh_at = NULL;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

-- Deletes keys; returns how many of them were live.
CREATE FUNCTION pgstack.kv_delete(namespace text, keys text[])
RETURNS bigint LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM pgstack.kv_entries e WHERE e.namespace = kv_delete.namespace AND e.key = ANY (kv_delete.keys)
    RETURNING e.expires_at
  )
  SELECT count(*) FROM gone WHERE expires_at IS NULL OR expires_at > now()
$$;

CREATE FUNCTION pgstack.kv_delete(namespace text, key text)
RETURNS boolean LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.kv_delete(kv_delete.namespace, ARRAY[kv_delete.key]) > 0 $$;

-- The integer a counter's value holds, or a clear error when it holds something else.
CREATE FUNCTION pgstack.kv_integer(value bytea, key text)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_value ALIAS FOR $1;
  p_key ALIAS FOR $2;
  v_text text;
BEGIN
  v_text := convert_from(p_value, 'UTF8');
  IF v_text ~ '^-?[0-9]{1,19}$' AND v_text::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
    RETURN v_text::bigint;
  END IF;
  RAISE EXCEPTION 'kv: key % does not hold an integer', quote_literal(p_key) USING ERRCODE = '22P02',
    HINT = 'kv_incr works on keys it created or set to a decimal integer.';
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
  RAISE EXCEPTION 'kv: key % does not hold an integer', quote_literal(p_key) USING ERRCODE = '22P02';
END
$$;

-- Adds `by` to an integer key and returns the result (INCRBY). A missing or expired
-- key starts from 0 and takes ttl; an existing key keeps its expiry, so a counter
-- created with a ttl is a fixed window. Exact under concurrency: the upsert locks the row.
CREATE FUNCTION pgstack.kv_incr(namespace text, key text, by bigint DEFAULT 1, ttl interval DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
  p_by ALIAS FOR $3;
  p_ttl ALIAS FOR $4;
  v_value bytea;
BEGIN
  IF p_key IS NULL OR octet_length(p_key) NOT BETWEEN 1 AND 1024 OR p_ttl <= interval '0' THEN
    PERFORM pgstack.kv_check_write(p_key, p_ttl);
  END IF;
  IF p_by IS NULL THEN
    RAISE EXCEPTION 'kv: increment is NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM 1 FROM pgstack.kv_namespaces WHERE name = p_namespace;
  IF NOT FOUND THEN PERFORM pgstack.kv_require_namespace(p_namespace); END IF;
  INSERT INTO pgstack.kv_entries AS e (namespace, key, value, expires_at)
  VALUES (p_namespace, p_key, convert_to(p_by::text, 'UTF8'), now() + p_ttl)
  ON CONFLICT (namespace, key) DO UPDATE
    SET value = CASE WHEN e.expires_at <= now() THEN excluded.value
                     ELSE convert_to((pgstack.kv_integer(e.value, e.key) + p_by)::text, 'UTF8') END,
        expires_at = CASE WHEN e.expires_at <= now() THEN excluded.expires_at ELSE e.expires_at END,
        refresh_at = NULL
  RETURNING e.value INTO v_value;
  RETURN convert_from(v_value, 'UTF8')::bigint;
END
$$;

-- Sets `key` to `new` only if it now holds `expected` (NULL: only if it is absent).
-- Returns whether it did.
CREATE FUNCTION pgstack.kv_compare_and_set(namespace text, key text, expected bytea, new bytea, ttl interval DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
  p_expected ALIAS FOR $3;
  p_new ALIAS FOR $4;
  p_ttl ALIAS FOR $5;
BEGIN
  IF p_expected IS NULL THEN
    RETURN pgstack.kv_set(p_namespace, p_key, p_new, p_ttl, 'if_absent');
  END IF;
  PERFORM pgstack.kv_check_write(p_key, p_ttl);
  IF p_new IS NULL THEN
    RAISE EXCEPTION 'kv: new value is NULL' USING ERRCODE = '22004', HINT = 'Use kv_delete to remove a key.';
  END IF;
  PERFORM pgstack.kv_require_namespace(p_namespace);
  UPDATE pgstack.kv_entries e SET value = p_new, expires_at = now() + p_ttl, refresh_at = NULL
  WHERE e.namespace = p_namespace AND e.key = p_key AND e.value = p_expected
    AND (e.expires_at IS NULL OR e.expires_at > now());
  RETURN FOUND;
END
$$;

-- Sets (or with NULL removes) a live key's expiry. Returns whether the key exists.
CREATE FUNCTION pgstack.kv_expire(namespace text, key text, ttl interval)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
  p_ttl ALIAS FOR $3;
BEGIN
  PERFORM pgstack.kv_check_write(p_key, p_ttl);
  PERFORM pgstack.kv_require_namespace(p_namespace);
  UPDATE pgstack.kv_entries e SET expires_at = now() + p_ttl
  WHERE e.namespace = p_namespace AND e.key = p_key AND (e.expires_at IS NULL OR e.expires_at > now());
  RETURN FOUND;
END
$$;

-- ---- locks (stampede protection, mutexes) ------------------------------------------

-- Takes the lock on (namespace, key) for `owner` until `ttl` passes, unless another
-- owner holds it. Taking it again as the same owner extends it.
CREATE FUNCTION pgstack.kv_try_lock(namespace text, key text, owner text, ttl interval)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
  p_owner ALIAS FOR $3;
  p_ttl ALIAS FOR $4;
BEGIN
  PERFORM pgstack.kv_check_write(p_key, coalesce(p_ttl, interval '0'));
  INSERT INTO pgstack.kv_locks AS l (namespace, key, owner, expires_at)
  VALUES (p_namespace, p_key, p_owner, clock_timestamp() + p_ttl)
  ON CONFLICT (namespace, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
    WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp();
  RETURN FOUND;
END
$$;

CREATE FUNCTION pgstack.kv_unlock(namespace text, key text, owner text)
RETURNS boolean LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (DELETE FROM pgstack.kv_locks l WHERE l.namespace = kv_unlock.namespace AND l.key = kv_unlock.key AND l.owner = kv_unlock.owner
                RETURNING 1)
  SELECT count(*) > 0 FROM gone
$$;

-- ---- cache -------------------------------------------------------------------------

-- A cached value: fresh for `fresh_for`, then served stale for `stale_for` more while
-- one process recomputes it (kv::Cache::get_or_compute), then gone.
CREATE FUNCTION pgstack.kv_cache_put(namespace text, key text, value bytea, fresh_for interval, stale_for interval DEFAULT interval '0')
RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_namespace ALIAS FOR $1;
  p_key ALIAS FOR $2;
  p_value ALIAS FOR $3;
  p_fresh_for ALIAS FOR $4;
  p_stale_for ALIAS FOR $5;
BEGIN
  PERFORM pgstack.kv_check_write(p_key, p_fresh_for);
  IF p_fresh_for IS NULL OR p_stale_for IS NULL OR p_stale_for < interval '0' THEN
    RAISE EXCEPTION 'kv: cache lifetimes must be given, fresh_for positive and stale_for not negative'
      USING ERRCODE = '22023';
  END IF;
  IF p_value IS NULL THEN
    RAISE EXCEPTION 'kv: value is NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM pgstack.kv_require_namespace(p_namespace);
  INSERT INTO pgstack.kv_entries AS e (namespace, key, value, expires_at, refresh_at)
  VALUES (p_namespace, p_key, p_value, now() + p_fresh_for + p_stale_for, now() + p_fresh_for)
  ON CONFLICT (namespace, key) DO UPDATE
    SET value = excluded.value, expires_at = excluded.expires_at, refresh_at = excluded.refresh_at;
END
$$;

-- The view registry is the owner's, and its refreshes run as each view's owner; the
-- functions that change it run as the registry's owner, so they check that the caller
-- (its login role, session_user: current_user is the owner in here) owns the view or
-- is a member of the role that does.
CREATE FUNCTION pgstack.cache_view_must_be_callers(view regclass)
RETURNS void LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  v_owner oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = cache_view_must_be_callers.view);
BEGIN
  IF v_owner IS NULL OR NOT pg_has_role(session_user, v_owner, 'USAGE') THEN
    RAISE EXCEPTION 'cache: % belongs to %, not to %', view, coalesce(pg_get_userbyid(v_owner), 'nobody'), session_user
      USING ERRCODE = '42501', HINT = 'Register and unregister a view as its owner (the role that made it, e.g. migrations).';
  END IF;
END
$$;

CREATE FUNCTION pgstack.register_materialized_view(view regclass, every interval)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_view ALIAS FOR $1;
  p_every ALIAS FOR $2;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = p_view AND relkind = 'm') THEN
    RAISE EXCEPTION 'cache: % is not a materialized view', p_view USING ERRCODE = '42809',
      HINT = 'Register a view made with CREATE MATERIALIZED VIEW.';
  END IF;
  PERFORM pgstack.cache_view_must_be_callers(p_view);
  IF p_every IS NULL OR p_every <= interval '0' THEN
    RAISE EXCEPTION 'cache: refresh interval % is not positive', coalesce(p_every::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  INSERT INTO pgstack.cache_views (view, every) VALUES (p_view, p_every)
  ON CONFLICT (view) DO UPDATE SET every = excluded.every, next_refresh_at = least(pgstack.cache_views.next_refresh_at, now() + excluded.every);
END
$$;

CREATE FUNCTION pgstack.unregister_materialized_view(view regclass)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  PERFORM pgstack.cache_view_must_be_callers(view);
  DELETE FROM pgstack.cache_views v WHERE v.view = unregister_materialized_view.view;
  RETURN FOUND;
END
$$;

-- Whether REFRESH ... CONCURRENTLY works for the view: populated, with a valid unique
-- index on plain columns and without a predicate.
CREATE FUNCTION pgstack.cache_view_refreshes_concurrently(view regclass)
RETURNS boolean LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT c.relispopulated AND EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = cache_view_refreshes_concurrently.view AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL)
  FROM pg_class c WHERE c.oid = cache_view_refreshes_concurrently.view
$$;

-- The others keep their definitions; they pin their search_path (and run as the owner where
-- they write what only the owner may write).
ALTER FUNCTION pgstack.kv_sweep() SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.cache_refresh_views() SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

-- Who may call what: nobody by default (PUBLIC), readwrite the API, readonly the reads.
REVOKE ALL ON FUNCTION pgstack.kv_create_namespace(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_drop_namespace(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_flush(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_require_namespace(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_check_write(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_lookup(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_get(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_get_text(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_get_json(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_mget(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_exists(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_ttl(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_keys(text, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_set(text, text, bytea, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_set(text, text, text, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_set(text, text, jsonb, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_mset(text, text[], bytea[], interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_delete(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_delete(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_integer(bytea, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_incr(text, text, bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_compare_and_set(text, text, bytea, bytea, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_expire(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_try_lock(text, text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_unlock(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_cache_put(text, text, bytea, interval, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.kv_sweep() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.register_materialized_view(regclass, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.unregister_materialized_view(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.cache_view_refreshes_concurrently(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.cache_view_must_be_callers(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.cache_refresh_views() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.kv_create_namespace(text, boolean),
  pgstack.kv_drop_namespace(text),
  pgstack.kv_flush(text),
  pgstack.kv_set(text, text, bytea, interval, text),
  pgstack.kv_set(text, text, text, interval, text),
  pgstack.kv_set(text, text, jsonb, interval, text),
  pgstack.kv_mset(text, text[], bytea[], interval),
  pgstack.kv_delete(text, text[]),
  pgstack.kv_delete(text, text),
  pgstack.kv_integer(bytea, text),
  pgstack.kv_incr(text, text, bigint, interval),
  pgstack.kv_compare_and_set(text, text, bytea, bytea, interval),
  pgstack.kv_expire(text, text, interval),
  pgstack.kv_try_lock(text, text, text, interval),
  pgstack.kv_unlock(text, text, text),
  pgstack.kv_cache_put(text, text, bytea, interval, interval),
  pgstack.register_materialized_view(regclass, interval),
  pgstack.unregister_materialized_view(regclass)
  TO readwrite;
GRANT EXECUTE ON FUNCTION
  pgstack.kv_require_namespace(text),
  pgstack.kv_check_write(text, interval),
  pgstack.kv_lookup(text, text[]),
  pgstack.kv_get(text, text),
  pgstack.kv_get_text(text, text),
  pgstack.kv_get_json(text, text),
  pgstack.kv_mget(text, text[]),
  pgstack.kv_exists(text, text),
  pgstack.kv_ttl(text, text),
  pgstack.kv_keys(text, text, text, integer),
  pgstack.cache_view_refreshes_concurrently(regclass)
  TO readwrite, readonly;

-- Tables: readwrite reads and writes keys and locks; both read everything; the
-- registries (and each namespace's own partition) only through the parent or functions.
REVOKE ALL ON pgstack.kv_namespaces, pgstack.kv_entries, pgstack.kv_locks, pgstack.cache_views
  FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.kv_namespaces, pgstack.kv_entries, pgstack.kv_locks, pgstack.cache_views
  TO readwrite, readonly;
GRANT INSERT, UPDATE, DELETE ON pgstack.kv_entries, pgstack.kv_locks TO readwrite;
DO $$
DECLARE
  v_part regclass;
BEGIN
  FOR v_part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
                 WHERE i.inhparent = 'pgstack.kv_entries'::regclass LOOP
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, readwrite, readonly', v_part);
  END LOOP;
END
$$;

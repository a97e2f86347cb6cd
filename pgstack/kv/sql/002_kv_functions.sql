-- The kv SQL API (docs/kv.md has the reference). Reads are plain SQL functions that
-- the planner inlines into the caller's query; writes are PL/pgSQL, whose plans are
-- cached per session. Every write checks its input first and raises a clear error
-- (22023 bad value, 42704 unknown namespace) before it changes anything.

-- Creates a namespace (its partition, unlogged unless p_logged). Idempotent; asking
-- again with the other persistence is an error, because switching it would rewrite
-- (or lose) the data.
CREATE FUNCTION pgstack.kv_create_namespace(p_name text, p_logged boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
DECLARE
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
CREATE FUNCTION pgstack.kv_drop_namespace(p_name text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
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
CREATE FUNCTION pgstack.kv_flush(p_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
BEGIN
  PERFORM pgstack.kv_require_namespace(p_name);
  EXECUTE format('TRUNCATE pgstack.%I', 'kv_ns_' || p_name);
END
$$;

CREATE FUNCTION pgstack.kv_require_namespace(p_name text)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM 1 FROM pgstack.kv_namespaces WHERE name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'kv: namespace % does not exist', coalesce(quote_literal(p_name), 'NULL')
      USING ERRCODE = '42704', HINT = 'Create it with pgstack.kv_create_namespace(name, logged), or use ''default''.';
  END IF;
END
$$;

-- The checks every write makes; raises 22023 with what is wrong.
CREATE FUNCTION pgstack.kv_check_write(p_key text, p_ttl interval)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
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

-- The live entries among p_keys (absent and expired keys give no row). Inlined into
-- the caller's query: one index probe per key.
CREATE FUNCTION pgstack.kv_lookup(p_namespace text, p_keys text[])
RETURNS TABLE (key text, value bytea, expires_at timestamptz, refresh_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT e.key, e.value, e.expires_at, e.refresh_at FROM pgstack.kv_entries e
  WHERE e.namespace = p_namespace AND e.key = ANY (p_keys) AND (e.expires_at IS NULL OR e.expires_at > now())
$$;

CREATE FUNCTION pgstack.kv_get(p_namespace text, p_key text)
RETURNS bytea LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT e.value FROM pgstack.kv_entries e WHERE e.namespace = p_namespace AND e.key = p_key
           AND (e.expires_at IS NULL OR e.expires_at > now()));
END
$$;

CREATE FUNCTION pgstack.kv_get_text(p_namespace text, p_key text)
RETURNS text LANGUAGE sql STABLE AS $$ SELECT convert_from(pgstack.kv_get(p_namespace, p_key), 'UTF8') $$;

CREATE FUNCTION pgstack.kv_get_json(p_namespace text, p_key text)
RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT convert_from(pgstack.kv_get(p_namespace, p_key), 'UTF8')::jsonb $$;

-- Values of p_keys in their order, NULL for an absent or expired key.
CREATE FUNCTION pgstack.kv_mget(p_namespace text, p_keys text[])
RETURNS TABLE (key text, value bytea)
LANGUAGE sql STABLE AS $$
  SELECT k.key, e.value
  FROM unnest(p_keys) WITH ORDINALITY AS k(key, n)
  LEFT JOIN pgstack.kv_entries e
    ON e.namespace = p_namespace AND e.key = k.key AND (e.expires_at IS NULL OR e.expires_at > now())
  ORDER BY k.n
$$;

CREATE FUNCTION pgstack.kv_exists(p_namespace text, p_key text)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM pgstack.kv_lookup(p_namespace, ARRAY[p_key]))
$$;

-- Time left before the key expires; NULL when it never expires or does not exist
-- (kv_exists tells the two apart).
CREATE FUNCTION pgstack.kv_ttl(p_namespace text, p_key text)
RETURNS interval LANGUAGE sql STABLE AS $$
  SELECT l.expires_at - now() FROM pgstack.kv_lookup(p_namespace, ARRAY[p_key]) l
$$;

-- Up to p_limit live keys after p_after, in key order (paging through a namespace).
CREATE FUNCTION pgstack.kv_keys(p_namespace text, p_prefix text DEFAULT '', p_after text DEFAULT '', p_limit integer DEFAULT 1000)
RETURNS TABLE (key text, expires_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT e.key, e.expires_at FROM pgstack.kv_entries e
  WHERE e.namespace = p_namespace AND e.key > p_after AND starts_with(e.key, p_prefix)
    AND (e.expires_at IS NULL OR e.expires_at > now())
  ORDER BY e.key
  LIMIT p_limit
$$;

-- ---- writes ------------------------------------------------------------------------

-- Sets a key. p_mode: 'always'; 'if_absent' (an expired key counts as absent: SET NX);
-- 'if_present' (SET XX). Returns whether it wrote. A new value replaces the expiry
-- too: p_ttl NULL makes the key permanent.
CREATE FUNCTION pgstack.kv_set(p_namespace text, p_key text, p_value bytea, p_ttl interval DEFAULT NULL,
                               p_mode text DEFAULT 'always')
RETURNS boolean LANGUAGE plpgsql AS $$
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

CREATE FUNCTION pgstack.kv_set(p_namespace text, p_key text, p_value text, p_ttl interval DEFAULT NULL,
                               p_mode text DEFAULT 'always')
RETURNS boolean LANGUAGE sql AS $$
  SELECT pgstack.kv_set(p_namespace, p_key, convert_to(p_value, 'UTF8'), p_ttl, p_mode)
$$;

CREATE FUNCTION pgstack.kv_set(p_namespace text, p_key text, p_value jsonb, p_ttl interval DEFAULT NULL,
                               p_mode text DEFAULT 'always')
RETURNS boolean LANGUAGE sql AS $$
  SELECT pgstack.kv_set(p_namespace, p_key, convert_to(p_value::text, 'UTF8'), p_ttl, p_mode)
$$;

-- Sets many keys in one statement, all with the same ttl. A key given twice takes its
-- last value. Returns how many keys were written.
CREATE FUNCTION pgstack.kv_mset(p_namespace text, p_keys text[], p_values bytea[], p_ttl interval DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
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
CREATE FUNCTION pgstack.kv_delete(p_namespace text, p_keys text[])
RETURNS bigint LANGUAGE sql AS $$
  WITH gone AS (
    DELETE FROM pgstack.kv_entries e WHERE e.namespace = p_namespace AND e.key = ANY (p_keys)
    RETURNING e.expires_at
  )
  SELECT count(*) FROM gone WHERE expires_at IS NULL OR expires_at > now()
$$;

CREATE FUNCTION pgstack.kv_delete(p_namespace text, p_key text)
RETURNS boolean LANGUAGE sql AS $$ SELECT pgstack.kv_delete(p_namespace, ARRAY[p_key]) > 0 $$;

-- The integer a counter's value holds, or a clear error when it holds something else.
CREATE FUNCTION pgstack.kv_integer(p_value bytea, p_key text)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
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

-- Adds p_by to an integer key and returns the result (INCRBY). A missing or expired
-- key starts from 0 and takes p_ttl; an existing key keeps its expiry, so a counter
-- created with a ttl is a fixed window. Exact under concurrency: the upsert locks the row.
CREATE FUNCTION pgstack.kv_incr(p_namespace text, p_key text, p_by bigint DEFAULT 1, p_ttl interval DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
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

-- Sets p_key to p_new only if it now holds p_expected (NULL: only if it is absent).
-- Returns whether it did.
CREATE FUNCTION pgstack.kv_compare_and_set(p_namespace text, p_key text, p_expected bytea, p_new bytea,
                                           p_ttl interval DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
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
CREATE FUNCTION pgstack.kv_expire(p_namespace text, p_key text, p_ttl interval)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgstack.kv_check_write(p_key, p_ttl);
  PERFORM pgstack.kv_require_namespace(p_namespace);
  UPDATE pgstack.kv_entries e SET expires_at = now() + p_ttl
  WHERE e.namespace = p_namespace AND e.key = p_key AND (e.expires_at IS NULL OR e.expires_at > now());
  RETURN FOUND;
END
$$;

-- ---- locks (stampede protection, mutexes) ------------------------------------------

-- Takes the lock on (namespace, key) for p_owner until p_ttl passes, unless another
-- owner holds it. Taking it again as the same owner extends it.
CREATE FUNCTION pgstack.kv_try_lock(p_namespace text, p_key text, p_owner text, p_ttl interval)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgstack.kv_check_write(p_key, coalesce(p_ttl, interval '0'));
  INSERT INTO pgstack.kv_locks AS l (namespace, key, owner, expires_at)
  VALUES (p_namespace, p_key, p_owner, clock_timestamp() + p_ttl)
  ON CONFLICT (namespace, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
    WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp();
  RETURN FOUND;
END
$$;

CREATE FUNCTION pgstack.kv_unlock(p_namespace text, p_key text, p_owner text)
RETURNS boolean LANGUAGE sql AS $$
  WITH gone AS (DELETE FROM pgstack.kv_locks l WHERE l.namespace = p_namespace AND l.key = p_key AND l.owner = p_owner
                RETURNING 1)
  SELECT count(*) > 0 FROM gone
$$;

-- ---- cache -------------------------------------------------------------------------

-- A cached value: fresh for p_fresh_for, then served stale for p_stale_for more while
-- one process recomputes it (kv::Cache::get_or_compute), then gone.
CREATE FUNCTION pgstack.kv_cache_put(p_namespace text, p_key text, p_value bytea, p_fresh_for interval,
                                     p_stale_for interval DEFAULT interval '0')
RETURNS void LANGUAGE plpgsql AS $$
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

-- ---- sweeping ----------------------------------------------------------------------

-- Removes expired keys and locks. Walks each namespace in key order a window at a
-- time from where the last sweep stopped, for about 100 ms in all, so each call does
-- bounded work whatever the table's size, and the walk needs no index on expires_at.
-- Registered as a maintenance task (every second); returns the rows removed.
CREATE FUNCTION pgstack.kv_sweep()
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_ns record;
  v_after text COLLATE "C";
  v_end text COLLATE "C";
  v_window integer := 5000;
  v_seen integer;
  v_removed bigint := 0;
  v_n bigint;
BEGIN
  DELETE FROM pgstack.kv_locks WHERE expires_at <= clock_timestamp();
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_removed := v_n;
  -- In a random order: when the time runs out, no namespace is always the one left out.
  FOR v_ns IN SELECT name, sweep_after FROM pgstack.kv_namespaces ORDER BY random() FOR UPDATE SKIP LOCKED LOOP
    EXIT WHEN clock_timestamp() - v_started > interval '100 milliseconds';
    v_after := v_ns.sweep_after;
    LOOP
      SELECT max(w.key), count(*) INTO v_end, v_seen
      FROM (SELECT e.key FROM pgstack.kv_entries e WHERE e.namespace = v_ns.name AND e.key > v_after
            ORDER BY e.key LIMIT v_window) w;
      IF v_seen > 0 THEN
        DELETE FROM pgstack.kv_entries e
        WHERE e.namespace = v_ns.name AND e.key > v_after AND e.key <= v_end AND e.expires_at <= now();
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_removed := v_removed + v_n;
      END IF;
      -- A short window means the end of the namespace: start from the top next time.
      v_after := CASE WHEN v_seen < v_window THEN '' ELSE v_end END;
      EXIT WHEN v_seen < v_window OR clock_timestamp() - v_started > interval '100 milliseconds';
    END LOOP;
    UPDATE pgstack.kv_namespaces SET sweep_after = v_after WHERE name = v_ns.name;
  END LOOP;
  RETURN v_removed;
END
$$;

SELECT pgstack.register_maintenance_task('kv_sweep', 'pgstack.kv_sweep()', interval '1 second');

-- The functions that run as their owner are for the application's role (granted to
-- readwrite by pgstack's roles), not for every role that can connect.
REVOKE EXECUTE ON FUNCTION pgstack.kv_create_namespace(text, boolean), pgstack.kv_drop_namespace(text),
  pgstack.kv_flush(text), pgstack.kv_sweep() FROM PUBLIC;

SELECT pgstack.kv_create_namespace('default');

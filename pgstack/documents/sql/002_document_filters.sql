-- The filter language (docs/documents.md, "Filters"), compiled to one SQL predicate
-- that the indexes serve. A filter is JSON, MongoDB-like:
--
--   {"status": "active", "price": {"$lt": 100}, "tags": {"$in": ["new", "sale"]},
--    "$or": [{"stock": {"$gt": 0}}, {"backorder": true}]}
--
-- What each operator becomes, and the index that serves it:
--   equality, $in, $all, $ne, $nin   subject @@ '<jsonpath == value>'   GIN (jsonb_path_ops), every collection has one
--     (lax jsonpath: a field that is an array matches when an element equals the value, as in MongoDB)
--   equality to an object or array   subject @> value and subject #> path = value
--   $gt $gte $lt $lte                pgstack.doc_number|doc_text|doc_timestamp(subject #> path) > value
--                                    btree on that expression: `pgstack docs index <c> <path> --type ...`
--   $exists (top-level field)        subject ? 'field'                      GIN (jsonb_ops)
--   $jsonpath / $jsonpath_match      subject @? / @@ jsonpath               GIN (jsonb_path_ops)
-- Every value of the filter travels as a parameter: the predicate refers to $1, a
-- jsonb[], and never holds a value of the filter. Paths are part of its text (an
-- expression index matches only a constant path), quoted as literals after
-- pgstack.doc_path has checked them. So a predicate depends only on the filter's shape
-- (its paths, operators, the JSON types of its values and the lengths of its lists):
-- a client may cache it per shape and prepare it once.

CREATE TYPE pgstack.doc_sql AS (sql text, params jsonb[]);

-- A value as a parameter of the predicate: appends it, returns the reference.
CREATE FUNCTION pgstack.doc_param(INOUT params jsonb[], value jsonb, OUT ref text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  IF pg_catalog.cardinality(params) >= 10000 THEN
    RAISE EXCEPTION 'docs: the filter has more than 10000 values'
      USING ERRCODE = '54000', HINT = 'Split the query, or use $in with fewer values per call.';
  END IF;
  params := params || value;
  ref := pg_catalog.format('$1[%s]', pg_catalog.cardinality(params));
END
$$;

-- A scalar of the filter as a jsonpath literal: PostgreSQL's JSON output is valid
-- jsonpath for every string, number, boolean and null, quoted and escaped.
CREATE FUNCTION pgstack.doc_jsonpath_literal(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT value::text $$;

-- Equality of the value at `path` to each of `vals` (any of them when `any_of`, all of
-- them otherwise): the $eq, $in and $all of the language.
CREATE FUNCTION pgstack.doc_equality_sql(path text[], vals jsonb[], any_of boolean, subject text, params jsonb[])
RETURNS pgstack.doc_sql
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  v jsonb;
  jp text := pgstack.doc_jsonpath_of(path);
  scalars text[] := '{}';
  parts text[] := '{}';
  ref text;
  ref_exact text;
  exact jsonb;
  has_null boolean := false;
BEGIN
  FOREACH v IN ARRAY vals LOOP
    IF pg_catalog.jsonb_typeof(v) = 'null' THEN
      has_null := true;  -- a missing field equals null too, as in MongoDB
    ELSIF pg_catalog.jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN
      scalars := scalars || (jp || ' == ' || pgstack.doc_jsonpath_literal(v));
    ELSE
      -- An object or an array: the value itself, exactly. The containment finds the
      -- candidates through the GIN index when no step is an array position.
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(path) k WHERE k ~ '^[0-9]{1,9}$') THEN
        exact := v;
        FOR i IN REVERSE pg_catalog.cardinality(path)..1 LOOP
          exact := pg_catalog.jsonb_build_object(path[i], exact);
        END LOOP;
        SELECT d.params, d.ref INTO params, ref_exact FROM pgstack.doc_param(params, exact) d;
        SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, v) d;
        parts := parts || pg_catalog.format('(%s @> %s AND %s #> %L::text[] = %s)', subject, ref_exact, subject, path, ref);
      ELSE
        SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, v) d;
        parts := parts || pg_catalog.format('%s #> %L::text[] = %s', subject, path, ref);
      END IF;
    END IF;
  END LOOP;
  IF has_null THEN
    SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, pg_catalog.to_jsonb(jp || ' == null')) d;
    parts := parts || pg_catalog.format('(%s @@ (%s #>> ''{}'')::jsonpath OR %s #> %L::text[] IS NULL)', subject, ref, subject, path);
  END IF;
  IF pg_catalog.cardinality(scalars) > 0 THEN
    -- One jsonpath for all the scalars: one GIN probe for a whole $in list.
    SELECT d.params, d.ref INTO params, ref
      FROM pgstack.doc_param(params, pg_catalog.to_jsonb(pg_catalog.array_to_string(scalars, CASE WHEN any_of THEN ' || ' ELSE ' && ' END))) d;
    parts := parts || pg_catalog.format('%s @@ (%s #>> ''{}'')::jsonpath', subject, ref);
  END IF;
  IF pg_catalog.cardinality(parts) = 0 THEN
    RETURN ROW(CASE WHEN any_of THEN 'false' ELSE 'true' END, params);  -- $in [] matches nothing, $all [] everything
  END IF;
  RETURN ROW('(' || pg_catalog.array_to_string(parts, CASE WHEN any_of THEN ' OR ' ELSE ' AND ' END) || ')', params);
END
$$;

-- A range comparison ($gt $gte $lt $lte) of the value at `path`, typed by the value
-- the filter gives: a number compares numbers, a string strings, {"$date": "..."}
-- instants. Values of another JSON type never match (as in MongoDB's type brackets).
CREATE FUNCTION pgstack.doc_range_sql(path text[], op text, value jsonb, subject text, params jsonb[], at text)
RETURNS pgstack.doc_sql
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  sql_op text := CASE op WHEN '$gt' THEN '>' WHEN '$gte' THEN '>=' WHEN '$lt' THEN '<' ELSE '<=' END;
  ref text;
BEGIN
  IF pg_catalog.jsonb_typeof(value) = 'number' THEN
    SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, value) d;
    RETURN ROW(pg_catalog.format('pgstack.doc_number(%s #> %L::text[]) %s (%s)::numeric', subject, path, sql_op, ref), params);
  ELSIF pg_catalog.jsonb_typeof(value) = 'string' THEN
    SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, value) d;
    RETURN ROW(pg_catalog.format('pgstack.doc_text(%s #> %L::text[]) %s (%s #>> ''{}'')', subject, path, sql_op, ref), params);
  ELSIF pg_catalog.jsonb_typeof(value) = 'object' AND value ? '$date' AND (SELECT count(*) FROM pg_catalog.jsonb_object_keys(value)) = 1 THEN
    IF pgstack.doc_timestamp(value -> '$date') IS NULL THEN
      RAISE EXCEPTION 'docs: % at % is not a time', (value -> '$date')::text, at
        USING ERRCODE = '22023', HINT = 'Give {"$date": "2026-12-04T10:00:00Z"}: ISO 8601 with its offset (Z or +01:00).';
    END IF;
    SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, value -> '$date') d;
    RETURN ROW(pg_catalog.format('pgstack.doc_timestamp(%s #> %L::text[]) %s (%s #>> ''{}'')::timestamptz', subject, path, sql_op, ref), params);
  END IF;
  RAISE EXCEPTION 'docs: % at % compares with %, which is not a number, a string or {"$date": ...}', op, at, value::text
    USING ERRCODE = '22023', HINT = 'Ranges compare numbers with numbers, strings with strings, times with {"$date": "2026-12-04T10:00:00Z"}.';
END
$$;

-- The operators of one field: {"$gt": 1, "$lt": 9} on `path`, all of which must hold.
CREATE FUNCTION pgstack.doc_operators_sql(path text[], ops jsonb, subject text, params jsonb[], at text, depth integer)
RETURNS pgstack.doc_sql
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  op text;
  arg jsonb;
  here text;
  part pgstack.doc_sql;
  parts text[] := '{}';
  ref text;
  alias text;
  vals jsonb[];
BEGIN
  FOR op, arg IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(ops) e LOOP
    here := at || '/' || op;
    IF op IN ('$in', '$nin', '$all') THEN
      IF pg_catalog.jsonb_typeof(arg) <> 'array' THEN
        RAISE EXCEPTION 'docs: % at % needs an array, not %', op, at, arg::text
          USING ERRCODE = '22023', HINT = pg_catalog.format('Write {"%s": [value, ...]}.', op);
      END IF;
      IF pg_catalog.jsonb_array_length(arg) > 1000 THEN
        RAISE EXCEPTION 'docs: % at % has % values, more than 1000', op, at, pg_catalog.jsonb_array_length(arg)
          USING ERRCODE = '54000', HINT = 'Join with a table of the values instead (docs/documents.md, "Large lists").';
      END IF;
      vals := ARRAY(SELECT x FROM pg_catalog.jsonb_array_elements(arg) x);
    END IF;
    CASE op
      WHEN '$eq', '$ne' THEN
        part := pgstack.doc_equality_sql(path, ARRAY[arg], true, subject, params);
      WHEN '$in', '$nin' THEN
        part := pgstack.doc_equality_sql(path, vals, true, subject, params);
      WHEN '$all' THEN
        part := pgstack.doc_equality_sql(path, vals, false, subject, params);
      WHEN '$gt', '$gte', '$lt', '$lte' THEN
        part := pgstack.doc_range_sql(path, op, arg, subject, params, here);
      WHEN '$exists' THEN
        IF pg_catalog.jsonb_typeof(arg) <> 'boolean' THEN
          RAISE EXCEPTION 'docs: $exists at % needs true or false, not %', at, arg::text USING ERRCODE = '22023';
        END IF;
        IF pg_catalog.cardinality(path) = 1 THEN
          SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, pg_catalog.to_jsonb(path[1])) d;
          part := ROW(pg_catalog.format('%s ? (%s #>> ''{}'')', subject, ref), params);
        ELSE
          part := ROW(pg_catalog.format('%s #> %L::text[] IS NOT NULL', subject, path), params);
        END IF;
        IF NOT arg::text::boolean THEN part.sql := 'NOT coalesce(' || part.sql || ', false)'; END IF;
      WHEN '$not' THEN
        IF pg_catalog.jsonb_typeof(arg) <> 'object' OR NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(arg) k WHERE k LIKE '$%') THEN
          RAISE EXCEPTION 'docs: $not at % needs operators, such as {"$not": {"$gt": 5}}', at USING ERRCODE = '22023';
        END IF;
        part := pgstack.doc_operators_sql(path, arg, subject, params, here, depth + 1);
        part.sql := 'NOT coalesce(' || part.sql || ', false)';
      WHEN '$elemMatch' THEN
        IF pg_catalog.jsonb_typeof(arg) <> 'object' THEN
          RAISE EXCEPTION 'docs: $elemMatch at % needs an object: a filter of the elements, or operators', at USING ERRCODE = '22023';
        END IF;
        -- Some element of the array at `path` matches: operators apply to the element
        -- itself ({"$gt": 5}), a filter to its fields ({"sku": "a", "qty": {"$gt": 1}}).
        alias := 'e' || depth;
        IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(arg) k WHERE k LIKE '$%') THEN
          part := pgstack.doc_operators_sql('{}', arg, alias || '.value', params, here, depth + 1);
        ELSE
          part := pgstack.doc_filter_sql(arg, alias || '.value', params, here, depth + 1);
        END IF;
        part.sql := pg_catalog.format(
          'EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(%1$s #> %2$L::text[]) = ''array'' THEN %1$s #> %2$L::text[] END) AS %3$s(value) WHERE %4$s)',
          subject, path, alias, part.sql);
      ELSE
        RAISE EXCEPTION 'docs: unknown operator % at %', quote_literal(op), at
          USING ERRCODE = '22023', HINT = 'Field operators: $eq $ne $gt $gte $lt $lte $in $nin $all $exists $elemMatch $not (docs/documents.md).';
    END CASE;
    params := part.params;
    IF op IN ('$ne', '$nin') THEN part.sql := 'NOT coalesce(' || part.sql || ', false)'; END IF;
    parts := parts || part.sql;
  END LOOP;
  IF pg_catalog.cardinality(parts) = 0 THEN
    RAISE EXCEPTION 'docs: no operator at %', at USING ERRCODE = '22023', HINT = 'Write {"$gt": 1}, or a value to compare with.';
  END IF;
  RETURN ROW('(' || pg_catalog.array_to_string(parts, ' AND ') || ')', params);
END
$$;

-- A filter object: every entry must hold. Entries are fields (a value or operators) or
-- $and / $or / $nor (lists of filters) and $jsonpath / $jsonpath_match (the escape
-- hatch to PostgreSQL's jsonpath, for what the language lacks).
CREATE FUNCTION pgstack.doc_filter_sql(filter jsonb, subject text, params jsonb[], at text, depth integer)
RETURNS pgstack.doc_sql
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  key text;
  val jsonb;
  here text;
  part pgstack.doc_sql;
  parts text[] := '{}';
  subs text[];
  sub jsonb;
  ref text;
  i integer;
  place text := CASE WHEN at = '' THEN 'the top of the filter' ELSE at END;
BEGIN
  IF depth > 32 THEN
    RAISE EXCEPTION 'docs: the filter nests deeper than 32 levels at %', place USING ERRCODE = '54000';
  END IF;
  IF filter IS NULL OR pg_catalog.jsonb_typeof(filter) <> 'object' THEN
    RAISE EXCEPTION '%', pg_catalog.format('docs: a filter must be a JSON object, not %s%s', coalesce(filter::text, 'NULL'),
                                           CASE WHEN at = '' THEN '' ELSE ' (at ' || at || ')' END)
      USING ERRCODE = '22023', HINT = 'Write {"field": value, ...}; {} matches every document.';
  END IF;
  FOR key, val IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(filter) e LOOP
    here := at || '/' || key;
    IF key IN ('$and', '$or', '$nor') THEN
      IF pg_catalog.jsonb_typeof(val) <> 'array' OR pg_catalog.jsonb_array_length(val) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'docs: % at % needs an array of 1 to 100 filters', key, place
          USING ERRCODE = '22023', HINT = pg_catalog.format('Write {"%s": [{...}, {...}]}.', key);
      END IF;
      subs := '{}';
      i := 0;
      FOR sub IN SELECT x FROM pg_catalog.jsonb_array_elements(val) x LOOP
        part := pgstack.doc_filter_sql(sub, subject, params, here || '/' || i, depth + 1);
        params := part.params;
        subs := subs || part.sql;
        i := i + 1;
      END LOOP;
      parts := parts || CASE key
        WHEN '$and' THEN '(' || pg_catalog.array_to_string(subs, ' AND ') || ')'
        WHEN '$or' THEN '(' || pg_catalog.array_to_string(subs, ' OR ') || ')'
        ELSE 'NOT coalesce((' || pg_catalog.array_to_string(subs, ' OR ') || '), false)' END;
    ELSIF key IN ('$jsonpath', '$jsonpath_match') THEN
      IF pg_catalog.jsonb_typeof(val) <> 'string' THEN
        RAISE EXCEPTION 'docs: % at % needs a jsonpath as a string', key, place USING ERRCODE = '22023';
      END IF;
      BEGIN
        PERFORM (val #>> '{}')::jsonpath;
      EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'docs: % at % is not a valid jsonpath: %', key, place, SQLERRM
          USING ERRCODE = '22023', HINT = 'See PostgreSQL''s "SQL/JSON Path Language", e.g. ''$.items[*] ? (@.qty > 1)''.';
      END;
      SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, val) d;
      parts := parts || pg_catalog.format('%s %s (%s #>> ''{}'')::jsonpath', subject,
                                          CASE key WHEN '$jsonpath' THEN '@?' ELSE '@@' END, ref);
    ELSE
      IF pg_catalog.jsonb_typeof(val) = 'object' AND EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(val) k WHERE k LIKE '$%') THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(val) k WHERE k NOT LIKE '$%') THEN
          RAISE EXCEPTION 'docs: % at % mixes operators and fields', val::text, here
            USING ERRCODE = '22023', HINT = 'Either operators ({"$gt": 1}) or a document to equal ({"a": 1}), not both; to match a field named with $, use $jsonpath.';
        END IF;
        part := pgstack.doc_operators_sql(pgstack.doc_path(key, 'filter at ' || here), val, subject, params, here, depth + 1);
      ELSE
        part := pgstack.doc_equality_sql(pgstack.doc_path(key, 'filter at ' || here), ARRAY[val], true, subject, params);
      END IF;
      params := part.params;
      parts := parts || part.sql;
    END IF;
  END LOOP;
  IF pg_catalog.cardinality(parts) = 0 THEN RETURN ROW('true'::text, params); END IF;
  RETURN ROW(pg_catalog.array_to_string(parts, ' AND '), params);
END
$$;

-- A jsonb column's name as SQL (quoted), for the compilers.
CREATE FUNCTION pgstack.doc_column_sql(column_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  IF column_name IS NULL OR octet_length(column_name) NOT BETWEEN 1 AND 63 THEN
    RAISE EXCEPTION 'docs: column name % is not valid', coalesce(quote_literal(column_name), 'NULL')
      USING ERRCODE = '22023', HINT = 'A column name is 1 to 63 bytes: the jsonb column the filter or changes apply to.';
  END IF;
  RETURN pg_catalog.quote_ident(column_name);
END
$$;

-- The API: a filter as a predicate on a jsonb column, and its parameters. The
-- predicate refers to $1 (the parameters, jsonb[]):
--
--   SELECT predicate, params FROM pgstack.doc_compile_filter('{"status": "active"}', 'attrs');
--   -- "attrs" @@ ($1[1] #>> '{}')::jsonpath      {"$.\"status\" == \"active\""}
--   EXECUTE format('SELECT id FROM products WHERE %s', predicate) USING params;   -- PL/pgSQL
--
-- It runs as the owner only so that the compiler's internal functions need not be
-- executable by application roles: it reads and writes nothing, and its result is
-- the same for every caller. What the predicate reads is read as the caller.
CREATE FUNCTION pgstack.doc_compile_filter(filter jsonb, column_name text DEFAULT 'doc')
RETURNS TABLE (predicate text, params jsonb[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  r pgstack.doc_sql;
BEGIN
  r := pgstack.doc_filter_sql(filter, pgstack.doc_column_sql(column_name), '{}', '', 0);
  predicate := r.sql;
  params := r.params;
  RETURN NEXT;
END
$$;

-- Writing documents (docs/documents.md, "Writing"): insert, replace, partial updates
-- of one document or of every match in one statement, delete; optimistic concurrency
-- by version. Like the rest of the module, these run as their caller.

-- The value at `path` raised by `by`; a missing value counts as 0. Raises 22023 when
-- the value is not a number.
CREATE FUNCTION pgstack.doc_inc(doc jsonb, path text[], by numeric) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  here jsonb := doc #> path;
BEGIN
  IF here IS NOT NULL AND pg_catalog.jsonb_typeof(here) <> 'number' THEN
    RAISE EXCEPTION 'docs: cannot $inc %: it is %, not a number', pg_catalog.array_to_string(path, '.'), pg_catalog.jsonb_typeof(here)
      USING ERRCODE = '22023', HINT = '$inc adds to numbers only; $set the field to a number first.';
  END IF;
  RETURN pgstack.doc_set_path(doc, path, pg_catalog.to_jsonb(coalesce(here::numeric, 0) + by));
END
$$;

-- doc without the value at `path`; nothing when there is none, a step through an array
-- that is not a position included (`#-` would raise there).
CREATE FUNCTION pgstack.doc_unset(doc jsonb, path text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.generate_subscripts(path, 1) i
                            WHERE i > 1 AND path[i] !~ '^-?[0-9]{1,9}$' AND pg_catalog.jsonb_typeof(doc #> path[1:i - 1]) = 'array')
              THEN doc ELSE doc #- path END
$$;

-- `value` appended to the array at `path` (made when missing).
CREATE FUNCTION pgstack.doc_push(doc jsonb, path text[], value jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  here jsonb := doc #> path;
BEGIN
  IF here IS NOT NULL AND pg_catalog.jsonb_typeof(here) <> 'array' THEN
    RAISE EXCEPTION 'docs: cannot $push to %: it is %, not an array', pg_catalog.array_to_string(path, '.'), pg_catalog.jsonb_typeof(here)
      USING ERRCODE = '22023', HINT = '$push appends to arrays only.';
  END IF;
  RETURN pgstack.doc_set_path(doc, path, coalesce(here, '[]'::jsonb) || pg_catalog.jsonb_build_array(value));
END
$$;

-- The array at `path` without the elements equal to `value` (unchanged when missing).
CREATE FUNCTION pgstack.doc_pull(doc jsonb, path text[], value jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  here jsonb := doc #> path;
BEGIN
  IF here IS NULL THEN RETURN doc; END IF;
  IF pg_catalog.jsonb_typeof(here) <> 'array' THEN
    RAISE EXCEPTION 'docs: cannot $pull from %: it is %, not an array', pg_catalog.array_to_string(path, '.'), pg_catalog.jsonb_typeof(here)
      USING ERRCODE = '22023', HINT = '$pull removes elements of arrays only.';
  END IF;
  RETURN pg_catalog.jsonb_set(doc, path, coalesce(
    (SELECT pg_catalog.jsonb_agg(e ORDER BY i) FROM pg_catalog.jsonb_array_elements(here) WITH ORDINALITY x(e, i) WHERE e <> value),
    '[]'::jsonb));
END
$$;

-- The value at `from` moved to `to` (nothing when `from` is missing).
CREATE FUNCTION pgstack.doc_rename(doc jsonb, from_path text[], to_path text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  here jsonb := doc #> from_path;
BEGIN
  IF here IS NULL THEN RETURN doc; END IF;
  RETURN pgstack.doc_set_path(pgstack.doc_unset(doc, from_path), to_path, here);
END
$$;

-- Changes as one SQL expression over `subject` (a jsonb), its values parameters:
--   {"$set": {"price": 9.5, "stock.warehouse": "b"}, "$unset": {"promo": ""},
--    "$inc": {"views": 1}, "$push": {"tags": "new"}, "$pull": {"tags": "old"},
--    "$rename": {"desc": "description"}}
-- Two changes to one path, or to a path and one inside it, are refused (as MongoDB
-- does): their order would decide the result.
CREATE FUNCTION pgstack.doc_update_sql(changes jsonb, subject text, params jsonb[]) RETURNS pgstack.doc_sql
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  op text;
  arg jsonb;
  path text;
  val jsonb;
  p text[];
  q text[];
  ref text;
  expr text := subject;
  touched text[] := '{}';
  ops constant text := 'Changes: $set $unset $inc $push $pull $rename, e.g. {"$set": {"price": 9.5}} (docs/documents.md); to replace a whole document use pgstack.doc_replace.';
BEGIN
  IF changes IS NULL OR pg_catalog.jsonb_typeof(changes) <> 'object' OR changes = '{}' THEN
    RAISE EXCEPTION 'docs: changes % are not valid', coalesce(changes::text, 'NULL') USING ERRCODE = '22023', HINT = ops;
  END IF;
  FOR op, arg IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(changes) e LOOP
    IF op NOT IN ('$set', '$unset', '$inc', '$push', '$pull', '$rename') THEN
      RAISE EXCEPTION 'docs: unknown change %', quote_literal(op) USING ERRCODE = '22023', HINT = ops;
    END IF;
    IF pg_catalog.jsonb_typeof(arg) <> 'object' OR arg = '{}' THEN
      RAISE EXCEPTION 'docs: % needs an object of paths, not %', op, arg::text USING ERRCODE = '22023', HINT = ops;
    END IF;
    FOR path, val IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(arg) e LOOP
      p := pgstack.doc_path(path, op);
      touched := touched || pg_catalog.array_to_string(p, '.');
      CASE op
        WHEN '$set' THEN
          SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, val) d;
          expr := pg_catalog.format('pgstack.doc_set_path(%s, %L::text[], %s)', expr, p, ref);
        WHEN '$unset' THEN
          expr := pg_catalog.format('pgstack.doc_unset(%s, %L::text[])', expr, p);
        WHEN '$inc' THEN
          IF pg_catalog.jsonb_typeof(val) <> 'number' THEN
            RAISE EXCEPTION 'docs: $inc of % by %: not a number', quote_literal(path), val::text USING ERRCODE = '22023';
          END IF;
          SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, val) d;
          expr := pg_catalog.format('pgstack.doc_inc(%s, %L::text[], (%s)::numeric)', expr, p, ref);
        WHEN '$push', '$pull' THEN
          SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, val) d;
          expr := pg_catalog.format('pgstack.doc_%s(%s, %L::text[], %s)', pg_catalog.substr(op, 2), expr, p, ref);
        WHEN '$rename' THEN
          IF pg_catalog.jsonb_typeof(val) <> 'string' THEN
            RAISE EXCEPTION 'docs: $rename of % needs the new path as a string', quote_literal(path) USING ERRCODE = '22023';
          END IF;
          q := pgstack.doc_path(val #>> '{}', '$rename');
          touched := touched || pg_catalog.array_to_string(q, '.');
          expr := pg_catalog.format('pgstack.doc_rename(%s, %L::text[], %L::text[])', expr, p, q);
      END CASE;
    END LOOP;
  END LOOP;
  IF pg_catalog.cardinality(touched) > 200 THEN
    RAISE EXCEPTION 'docs: more than 200 changes in one update' USING ERRCODE = '54000';
  END IF;
  FOR i IN 1..pg_catalog.cardinality(touched) LOOP
    FOR j IN i + 1..pg_catalog.cardinality(touched) LOOP
      IF touched[i] = touched[j] OR pg_catalog.starts_with(touched[i], touched[j] || '.')
         OR pg_catalog.starts_with(touched[j], touched[i] || '.') THEN
        RAISE EXCEPTION 'docs: the changes touch % and %, which overlap', quote_literal(touched[i]), quote_literal(touched[j])
          USING ERRCODE = '22023', HINT = 'Change each path once per update, and not also a path inside it.';
      END IF;
    END LOOP;
  END LOOP;
  RETURN ROW(expr, params);
END
$$;

-- The API for a jsonb column of any table: changes as an expression of that column.
--   SELECT expression, params FROM pgstack.doc_compile_update('{"$inc": {"views": 1}}', 'attrs');
--   EXECUTE format('UPDATE products SET attrs = %s WHERE id = 7', expression) USING params;
-- Its references start at $1[first_param], so that an UPDATE can carry a filter's
-- parameters first (doc_update_many does). Runs as the owner for the reason
-- doc_compile_filter does; it reads and writes nothing.
CREATE FUNCTION pgstack.doc_compile_update(changes jsonb, column_name text DEFAULT 'doc', first_param integer DEFAULT 1)
RETURNS TABLE (expression text, params jsonb[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  r pgstack.doc_sql;
BEGIN
  IF first_param IS NULL OR first_param NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'docs: first_param % is not between 1 and 10000', coalesce(first_param::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  r := pgstack.doc_update_sql(changes, pgstack.doc_column_sql(column_name), pg_catalog.array_fill(NULL::jsonb, ARRAY[first_param - 1]));
  expression := r.sql;
  params := r.params[first_param:];
  RETURN NEXT;
END
$$;

-- Inserts a document; returns its id. Bulk: doc_insert_many, or COPY into the table's
-- doc column (the C++ Collection::insert_many does), which the same checks guard.
CREATE FUNCTION pgstack.doc_insert(collection regclass, doc jsonb) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  new_id bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  -- (The table's own constraint refuses it too, but names no cause a caller knows.)
  IF doc IS NULL OR pg_catalog.jsonb_typeof(doc) <> 'object' THEN
    RAISE EXCEPTION 'docs: a document must be a JSON object, not %', coalesce(pg_catalog.jsonb_typeof(doc), 'NULL')
      USING ERRCODE = '22023', HINT = 'Documents are objects: {"name": "..."}.';
  END IF;
  EXECUTE pg_catalog.format('INSERT INTO %s (doc) VALUES ($1) RETURNING id', collection) INTO new_id USING doc;
  RETURN new_id;
END
$$;

-- Inserts many documents in one statement; returns their ids in the order given.
CREATE FUNCTION pgstack.doc_insert_many(collection regclass, docs jsonb[]) RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  IF docs IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.unnest(docs) d WHERE d IS NULL OR pg_catalog.jsonb_typeof(d) <> 'object') THEN
    RAISE EXCEPTION 'docs: every document must be a JSON object' USING ERRCODE = '22023', HINT = 'Documents are objects: {"name": "..."}; nothing was inserted.';
  END IF;
  RETURN QUERY EXECUTE pg_catalog.format(
    'WITH input AS (SELECT d, i FROM pg_catalog.unnest($1) WITH ORDINALITY u(d, i)),
          made AS (INSERT INTO %s (doc) SELECT d FROM input ORDER BY i RETURNING id)
     SELECT id FROM made ORDER BY id', collection) USING docs;
END
$$;

-- A collection's row.
CREATE TYPE pgstack.document AS (id bigint, doc jsonb, version bigint, created_at timestamptz, updated_at timestamptz);

-- One document by id, or no row.
CREATE FUNCTION pgstack.doc_get(collection regclass, id bigint)
RETURNS SETOF pgstack.document
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  RETURN QUERY EXECUTE pg_catalog.format(
    'SELECT t.id, t.doc, t.version, t.created_at, t.updated_at FROM %s t WHERE t.id = $1', collection) USING doc_get.id;
END
$$;

-- How many documents match. Exact (it reads every match, through the indexes).
CREATE FUNCTION pgstack.doc_count(collection regclass, filter jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  f record;
  n bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  f := pgstack.doc_compile_filter(coalesce(filter, '{}'));
  EXECUTE pg_catalog.format('SELECT count(*) FROM %s WHERE %s', collection, f.predicate) INTO n USING f.params;
  RETURN n;
END
$$;

-- Applies changes to one document; returns its new version and content, or no row when
-- there is no such document. With expected_version, a document at another version is
-- left alone and the call fails with 40001 (someone changed it since you read it).
CREATE FUNCTION pgstack.doc_update(collection regclass, id bigint, changes jsonb, expected_version bigint DEFAULT NULL)
RETURNS TABLE (version bigint, doc jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  u record;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  u := pgstack.doc_compile_update(changes);
  RETURN QUERY EXECUTE pg_catalog.format(
    'UPDATE %s SET doc = %s, version = version + 1, updated_at = pg_catalog.now()
      WHERE id = $2 AND ($3 IS NULL OR version = $3) RETURNING version, doc', collection, u.expression)
    USING u.params, doc_update.id, expected_version;
  IF NOT FOUND AND expected_version IS NOT NULL THEN
    PERFORM pgstack.doc_require_version(collection, doc_update.id, expected_version);
  END IF;
END
$$;

-- Replaces one document whole (same id, version raised); no row when there is none.
CREATE FUNCTION pgstack.doc_replace(collection regclass, id bigint, doc jsonb, expected_version bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  new_version bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  IF doc IS NULL OR pg_catalog.jsonb_typeof(doc) <> 'object' THEN
    RAISE EXCEPTION 'docs: a document must be a JSON object, not %', coalesce(pg_catalog.jsonb_typeof(doc), 'NULL')
      USING ERRCODE = '22023', HINT = 'Documents are objects: {"name": "..."}.';
  END IF;
  EXECUTE pg_catalog.format(
    'UPDATE %s t SET doc = $1, version = t.version + 1, updated_at = pg_catalog.now()
      WHERE t.id = $2 AND ($3 IS NULL OR t.version = $3) RETURNING t.version', collection)
    INTO new_version USING doc_replace.doc, doc_replace.id, expected_version;
  IF new_version IS NULL AND expected_version IS NOT NULL THEN
    PERFORM pgstack.doc_require_version(collection, doc_replace.id, expected_version);
  END IF;
  RETURN new_version;
END
$$;

-- Raises 40001 when the document exists at another version than expected: what
-- doc_update, doc_replace and doc_delete raise when given an expected_version.
CREATE FUNCTION pgstack.doc_require_version(collection regclass, id bigint, expected_version bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  now_at bigint;
BEGIN
  EXECUTE pg_catalog.format('SELECT t.version FROM %s t WHERE t.id = $1', collection) INTO now_at USING id;
  IF now_at IS NOT NULL THEN
    RAISE EXCEPTION 'docs: % % is at version %, not %', collection, id, now_at, expected_version
      USING ERRCODE = '40001', HINT = 'It changed since you read it: read it again and apply your change to what it is now.';
  END IF;
END
$$;

-- Applies changes to every matching document in one statement; returns how many.
CREATE FUNCTION pgstack.doc_update_many(collection regclass, filter jsonb, changes jsonb) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  f record;
  u record;
  n bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  f := pgstack.doc_compile_filter(coalesce(filter, '{}'));
  u := pgstack.doc_compile_update(changes, 'doc', pg_catalog.cardinality(f.params) + 1);
  EXECUTE pg_catalog.format(
    'UPDATE %s SET doc = %s, version = version + 1, updated_at = pg_catalog.now() WHERE %s', collection, u.expression, f.predicate)
    USING f.params || u.params;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Deletes one document (only at expected_version, when given: else 40001); returns
-- whether it did.
CREATE FUNCTION pgstack.doc_delete(collection regclass, id bigint, expected_version bigint DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  EXECUTE pg_catalog.format('DELETE FROM %s t WHERE t.id = $1 AND ($2 IS NULL OR t.version = $2)', collection)
    USING id, expected_version;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 AND expected_version IS NOT NULL THEN
    PERFORM pgstack.doc_require_version(collection, id, expected_version);
  END IF;
  RETURN n > 0;
END
$$;

-- Deletes every matching document; returns how many. An empty filter is refused (it
-- would delete everything): TRUNCATE the table to mean that.
CREATE FUNCTION pgstack.doc_delete_many(collection regclass, filter jsonb) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  f record;
  n bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  IF filter IS NULL OR filter = '{}' THEN
    RAISE EXCEPTION 'docs: doc_delete_many with an empty filter would delete every document of %', collection
      USING ERRCODE = '22023', HINT = 'Pass a filter; to empty the collection, TRUNCATE it.';
  END IF;
  f := pgstack.doc_compile_filter(filter);
  EXECUTE pg_catalog.format('DELETE FROM %s WHERE %s', collection, f.predicate) USING f.params;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

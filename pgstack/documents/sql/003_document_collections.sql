-- Collections: tables of documents made to the stack's schema template, and the
-- operations on them (docs/documents.md). Every function here runs as its caller: a
-- collection is the application's table, created by the role that runs its migrations
-- (`migrations` on the stack, so readwrite and readonly reach it through the default
-- privileges), and what a role may do to it is what its table privileges allow.
-- Names travel as regclass (resolved, and so checked, by the caller) and are put into
-- SQL by their regclass text, which PostgreSQL quotes; values travel as parameters.

-- Creates a collection: id, doc (a JSON object), version (raised by every update, for
-- optimistic concurrency), created_at, updated_at; a GIN index (jsonb_path_ops) that
-- serves equality, $in, $all and containment on any path. Returns the table.
CREATE FUNCTION pgstack.doc_collection_create(name text, schema_name text DEFAULT 'public')
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'docs: collection name % is not valid', coalesce(quote_literal(name), 'NULL')
      USING ERRCODE = '22023', HINT = 'A collection name is a lower-case letter, then up to 47 lower-case letters, digits or _.';
  END IF;
  -- pg_temp (the session's own schema, for a scratch collection) is no schema's real name.
  IF (CASE WHEN schema_name = 'pg_temp' THEN pg_catalog.pg_my_temp_schema() ELSE to_regnamespace(quote_ident(schema_name)) END) IS NULL THEN
    RAISE EXCEPTION 'docs: schema % does not exist', coalesce(quote_literal(schema_name), 'NULL')
      USING ERRCODE = '3F000', HINT = 'Collections go into a schema you may create in, usually public.';
  END IF;
  IF to_regclass(format('%I.%I', schema_name, name)) IS NOT NULL THEN
    IF pgstack.doc_is_collection(format('%I.%I', schema_name, name)::regclass) THEN
      RETURN format('%I.%I', schema_name, name)::regclass;  -- created before: nothing to do
    END IF;
    RAISE EXCEPTION 'docs: %.% exists and is not a collection', schema_name, name
      USING ERRCODE = '42P07', HINT = 'Choose another name; pgstack.doc_compile_filter works on a jsonb column of any table.';
  END IF;
  EXECUTE format($ddl$
    CREATE TABLE %1$I.%2$I (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      doc jsonb NOT NULL,
      version bigint NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT doc_collection CHECK (pg_catalog.jsonb_typeof(doc) = 'object')
    )$ddl$, schema_name, name);
  EXECUTE format('CREATE INDEX %I ON %I.%I USING gin (doc jsonb_path_ops)', name || '_doc_gin', schema_name, name);
  EXECUTE format('COMMENT ON TABLE %I.%I IS %L', schema_name, name, 'pgstack docs collection');
  RETURN format('%I.%I', schema_name, name)::regclass;
END
$$;

-- Whether a table is a collection: the shape doc_collection_create makes, marked by its
-- check constraint `doc_collection`.
CREATE FUNCTION pgstack.doc_is_collection(collection regclass) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                  WHERE c.conrelid = collection AND c.conname = 'doc_collection' AND c.contype = 'c')
$$;

CREATE FUNCTION pgstack.doc_require_collection(collection regclass) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  IF collection IS NULL OR NOT pgstack.doc_is_collection(collection) THEN
    RAISE EXCEPTION 'docs: % is not a collection', coalesce(collection::text, 'NULL')
      USING ERRCODE = '42809', HINT = 'Create it with pgstack.doc_collection_create(name), or pgstack docs create <name>.';
  END IF;
END
$$;

-- Every collection the caller can see, with its estimated size.
CREATE VIEW pgstack.doc_collections AS
SELECT c.oid::regclass AS collection, n.nspname AS schema_name, c.relname AS name,
       greatest(c.reltuples, 0)::bigint AS estimated_documents,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                WHERE k.conrelid = c.oid AND k.conname = 'doc_collection' AND k.contype = 'c');

-- The index that serves ranges and sorts on a path, as `pgstack docs index` creates it:
-- its name, the statement (CONCURRENTLY, so writes go on while it is built; run it
-- outside a transaction) and, in words, what it serves. kind: numeric, text or
-- timestamp (the typed value, for $gt/$gte/$lt/$lte and typed sorts), or jsonb (the
-- value itself, for sorts in jsonb's order); unique makes the value a key of the
-- collection (a second document with it is refused). Reads only the catalog.
CREATE FUNCTION pgstack.doc_index_sql(collection regclass, path text, kind text DEFAULT 'numeric', is_unique boolean DEFAULT false)
RETURNS TABLE (index_name text, statement text, serves text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  p text[] := pgstack.doc_path(path, 'the index');
  expr text;
  table_name text;
BEGIN
  IF kind IS NULL OR kind NOT IN ('numeric', 'text', 'timestamp', 'jsonb') THEN
    RAISE EXCEPTION 'docs: index type % is not valid', coalesce(quote_literal(kind), 'NULL')
      USING ERRCODE = '22023', HINT = 'An index type is numeric, text, timestamp (ranges and typed sorts) or jsonb (sorts in jsonb order).';
  END IF;
  SELECT c.relname INTO table_name FROM pg_catalog.pg_class c WHERE c.oid = collection;
  IF table_name IS NULL THEN
    RAISE EXCEPTION 'docs: no such table' USING ERRCODE = '42P01';
  END IF;
  expr := pg_catalog.format(CASE kind WHEN 'jsonb' THEN '(doc #> %L::text[])' WHEN 'numeric' THEN 'pgstack.doc_number(doc #> %L::text[])'
                                      WHEN 'text' THEN 'pgstack.doc_text(doc #> %L::text[])' ELSE 'pgstack.doc_timestamp(doc #> %L::text[])' END, p);
  index_name := pg_catalog.left(table_name || '_' || pg_catalog.regexp_replace(pg_catalog.lower(pg_catalog.array_to_string(p, '_')), '[^a-z0-9_]', '_', 'g')
                                || '_' || kind || CASE WHEN is_unique THEN '_key' ELSE '' END, 63);
  statement := pg_catalog.format('CREATE %sINDEX CONCURRENTLY IF NOT EXISTS %I ON %s ((%s))',
                                 CASE WHEN is_unique THEN 'UNIQUE ' ELSE '' END, index_name, collection, expr);
  serves := CASE kind
    WHEN 'jsonb' THEN pg_catalog.format('sorts by [{"%s": 1}] or -1 (jsonb order)', path)
    ELSE pg_catalog.format('{"%1$s": {"$gt": ...}} and $gte, $lt, $lte with %2$s, and sorts by [{"%1$s": {"order": 1, "type": "%3$s"}}]',
                           path, CASE kind WHEN 'numeric' THEN 'numbers' WHEN 'text' THEN 'strings' ELSE '{"$date": ...} times' END, kind) END
    || CASE WHEN is_unique THEN '; no two documents may have the same value there' ELSE '' END;
  RETURN NEXT;
END
$$;

-- Sets the value at `path` in doc, creating the objects on the way ($set of a.b.c on a
-- document without a). Raises 22023 when a step is a value that is neither an object
-- nor (for a number step) an array.
CREATE FUNCTION pgstack.doc_set_path(doc jsonb, path text[], value jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  n integer := pg_catalog.cardinality(path);
  here jsonb;
BEGIN
  IF n = 0 THEN RETURN value; END IF;
  FOR i IN 1..n - 1 LOOP
    here := doc #> path[1:i];
    IF here IS NULL THEN
      doc := pg_catalog.jsonb_set(doc, path[1:i], '{}'::jsonb, true);
    ELSIF pg_catalog.jsonb_typeof(here) NOT IN ('object', 'array') THEN
      RAISE EXCEPTION 'docs: cannot set % inside %, which is %', pg_catalog.array_to_string(path, '.'),
        pg_catalog.array_to_string(path[1:i], '.'), pg_catalog.jsonb_typeof(here)
        USING ERRCODE = '22023', HINT = 'Set the field itself first, or $unset it.';
    ELSIF pg_catalog.jsonb_typeof(here) = 'array' AND path[i + 1] !~ '^-?[0-9]{1,9}$' THEN
      RAISE EXCEPTION 'docs: cannot set %: % is an array', pg_catalog.array_to_string(path, '.'), pg_catalog.array_to_string(path[1:i], '.')
        USING ERRCODE = '22023', HINT = 'Name an element by its position (items.0.sku), or $push to the array.';
    END IF;
  END LOOP;
  IF doc #> path[1:n - 1] IS NULL AND n > 1 THEN
    RAISE EXCEPTION 'docs: cannot set %: no such element', pg_catalog.array_to_string(path, '.') USING ERRCODE = '22023';
  END IF;
  RETURN pg_catalog.jsonb_set(doc, path, value, true);
END
$$;

-- A sort: [{"price": -1}, {"name": 1}] (an array, since a JSON object has no order),
-- or one {"path": 1 | -1}. A direction may instead be {"order": -1, "type": "numeric"}
-- to sort by the typed value (numeric, text, timestamp) that a typed index holds;
-- otherwise values sort in jsonb's order. Missing values sort last ascending and first
-- descending (an index's own order, both ways). Ties are broken by id.
CREATE TYPE pgstack.doc_sort_key AS (expr text, descending boolean, kind text);

CREATE FUNCTION pgstack.doc_sort_keys(sort jsonb, subject text) RETURNS pgstack.doc_sort_key[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  entries jsonb[];
  entry jsonb;
  path text;
  dir jsonb;
  order_value jsonb;
  kind text;
  p text[];
  keys pgstack.doc_sort_key[] := '{}';
  bad_dir constant text := 'A direction is 1 (ascending), -1 (descending) or {"order": -1, "type": "numeric"|"text"|"timestamp"}.';
BEGIN
  IF sort IS NULL THEN RETURN keys; END IF;
  IF pg_catalog.jsonb_typeof(sort) = 'object' AND (SELECT count(*) FROM pg_catalog.jsonb_object_keys(sort)) <= 1 THEN
    entries := CASE WHEN sort = '{}' THEN '{}' ELSE ARRAY[sort] END;
  ELSIF pg_catalog.jsonb_typeof(sort) = 'array' THEN
    entries := ARRAY(SELECT x FROM pg_catalog.jsonb_array_elements(sort) x);
  ELSE
    RAISE EXCEPTION 'docs: sort % is not valid', sort::text
      USING ERRCODE = '22023', HINT = 'Sort by [{"price": -1}, {"name": 1}]: an array, since a JSON object keeps no order of its keys.';
  END IF;
  IF pg_catalog.cardinality(entries) > 8 THEN
    RAISE EXCEPTION 'docs: sort has % keys, more than 8', pg_catalog.cardinality(entries) USING ERRCODE = '54000';
  END IF;
  FOREACH entry IN ARRAY entries LOOP
    IF pg_catalog.jsonb_typeof(entry) <> 'object' OR (SELECT count(*) FROM pg_catalog.jsonb_object_keys(entry)) <> 1 THEN
      RAISE EXCEPTION 'docs: sort entry % is not valid', entry::text USING ERRCODE = '22023', HINT = 'Each entry is {"path": direction}.';
    END IF;
    SELECT e.key, e.value INTO path, dir FROM pg_catalog.jsonb_each(entry) e;
    p := pgstack.doc_path(path, 'the sort');
    kind := 'jsonb';
    order_value := dir;
    IF pg_catalog.jsonb_typeof(dir) = 'object' THEN
      order_value := dir -> 'order';
      kind := coalesce(dir ->> 'type', 'jsonb');
      IF kind NOT IN ('jsonb', 'numeric', 'text', 'timestamp') OR EXISTS (
           SELECT 1 FROM pg_catalog.jsonb_object_keys(dir) k WHERE k NOT IN ('order', 'type')) THEN
        RAISE EXCEPTION 'docs: sort direction % for % is not valid', dir::text, quote_literal(path) USING ERRCODE = '22023', HINT = bad_dir;
      END IF;
    END IF;
    IF order_value IS NULL OR order_value NOT IN ('1', '-1') THEN
      RAISE EXCEPTION 'docs: sort direction % for % is not valid', dir::text, quote_literal(path) USING ERRCODE = '22023', HINT = bad_dir;
    END IF;
    keys := keys || ROW(pg_catalog.format(CASE kind WHEN 'jsonb' THEN '(%s #> %L::text[])'
                                                    WHEN 'numeric' THEN 'pgstack.doc_number(%s #> %L::text[])'
                                                    WHEN 'text' THEN 'pgstack.doc_text(%s #> %L::text[])'
                                                    ELSE 'pgstack.doc_timestamp(%s #> %L::text[])' END, subject, p),
                        order_value = '-1', kind)::pgstack.doc_sort_key;
  END LOOP;
  RETURN keys;
END
$$;

-- A key's cursor value as SQL: the cursor holds [value] for a value, null for none.
CREATE FUNCTION pgstack.doc_cursor_value(kind text, ref text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pg_catalog.format(CASE kind WHEN 'jsonb' THEN '(%s -> 0)' WHEN 'numeric' THEN '((%s -> 0)::numeric)'
                                     WHEN 'text' THEN '(%s ->> 0)' ELSE '((%s ->> 0)::timestamptz)' END, ref)
$$;

-- The rows after a cursor in the sort's order (keyset pagination): for keys k1..kn
-- and id, k1 after a1, or k1 = a1 and (k2 after a2, or ... id > x). "After" follows
-- the direction and where missing values sort (last ascending, first descending).
-- The first key also bounds the scan (k1 <= a1 descending, k1 >= a1 ascending) so an
-- index on it starts at the cursor, not at the beginning. Ascending, that bound leaves
-- out the rows without a value, which sort after all others: doc_find reads those in a
-- second query (k1 IS NULL) when the first comes back short, each one index range.
CREATE FUNCTION pgstack.doc_after_sql(keys pgstack.doc_sort_key[], after jsonb, id_expr text, params jsonb[])
RETURNS pgstack.doc_sql
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  n integer := pg_catalog.cardinality(keys);
  acc text;
  ref text;
  val text;
  k pgstack.doc_sort_key;
  a jsonb;
  bound text;
  bad constant text := 'Pass the `after` of the last row you read, with the same sort.';
BEGIN
  IF pg_catalog.jsonb_typeof(after) <> 'array' OR pg_catalog.jsonb_array_length(after) <> n + 1
     OR pg_catalog.jsonb_typeof(after -> n) <> 'number' THEN
    RAISE EXCEPTION 'docs: cursor % does not belong to this sort', after::text USING ERRCODE = '22023', HINT = bad;
  END IF;
  SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, after -> n) d;
  acc := pg_catalog.format('%s > (%s)::bigint', id_expr, ref);
  FOR i IN REVERSE n..1 LOOP
    k := keys[i];
    a := after -> (i - 1);
    IF pg_catalog.jsonb_typeof(a) = 'null' THEN
      -- The row had no value here: ascending, only rows without one come after;
      -- descending, every row with one does.
      acc := CASE WHEN k.descending THEN pg_catalog.format('(%1$s IS NOT NULL OR (%1$s IS NULL AND %2$s))', k.expr, acc)
                  ELSE pg_catalog.format('(%1$s IS NULL AND %2$s)', k.expr, acc) END;
      IF i = 1 AND NOT k.descending THEN bound := k.expr || ' IS NULL'; END IF;
    ELSE
      IF pg_catalog.jsonb_typeof(a) <> 'array' OR pg_catalog.jsonb_array_length(a) <> 1
         OR (k.kind = 'numeric' AND pg_catalog.jsonb_typeof(a -> 0) <> 'number')
         OR (k.kind IN ('text', 'timestamp') AND pg_catalog.jsonb_typeof(a -> 0) <> 'string')
         OR (k.kind = 'timestamp' AND pgstack.doc_timestamp(a -> 0) IS NULL) THEN
        RAISE EXCEPTION 'docs: cursor % does not belong to this sort', after::text USING ERRCODE = '22023', HINT = bad;
      END IF;
      SELECT d.params, d.ref INTO params, ref FROM pgstack.doc_param(params, a) d;
      val := pgstack.doc_cursor_value(k.kind, ref);
      acc := CASE WHEN k.descending THEN pg_catalog.format('(%1$s < %2$s OR (%1$s = %2$s AND %3$s))', k.expr, val, acc)
                  ELSE pg_catalog.format('(%1$s > %2$s OR %1$s IS NULL OR (%1$s = %2$s AND %3$s))', k.expr, val, acc) END;
      IF i = 1 THEN bound := pg_catalog.format(CASE WHEN k.descending THEN '%s <= %s' ELSE '%s >= %s' END, k.expr, val); END IF;
    END IF;
  END LOOP;
  RETURN ROW(CASE WHEN bound IS NULL THEN acc ELSE bound || ' AND ' || acc END, params);
END
$$;

-- A projection: {"name": 1, "price": 1} keeps only those paths, {"body": 0} drops
-- them; not both kinds at once. Returns the paths and whether they are kept.
CREATE FUNCTION pgstack.doc_projection_paths(projection jsonb, OUT paths text[], OUT keep boolean)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  path text;
  flag jsonb;
  p text[];
BEGIN
  paths := '{}';
  IF projection IS NULL OR projection = '{}' THEN keep := NULL; RETURN; END IF;
  IF pg_catalog.jsonb_typeof(projection) <> 'object' THEN
    RAISE EXCEPTION 'docs: projection % is not valid', projection::text
      USING ERRCODE = '22023', HINT = 'Write {"name": 1, "price": 1} to keep paths, or {"body": 0} to drop them.';
  END IF;
  FOR path, flag IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(projection) e LOOP
    IF flag NOT IN ('1', '0', 'true', 'false') THEN
      RAISE EXCEPTION 'docs: projection of % is %, not 1 or 0', quote_literal(path), flag::text USING ERRCODE = '22023';
    END IF;
    IF keep IS NOT NULL AND keep <> (flag IN ('1', 'true')) THEN
      RAISE EXCEPTION 'docs: projection % both keeps and drops paths', projection::text
        USING ERRCODE = '22023', HINT = 'Keep some paths ({"a": 1, "b": 1}) or drop some ({"c": 0}), not both.';
    END IF;
    keep := flag IN ('1', 'true');
    p := pgstack.doc_path(path, 'the projection');
    paths := paths || pg_catalog.array_to_string(p, '.');
  END LOOP;
  IF pg_catalog.cardinality(paths) > 100 THEN
    RAISE EXCEPTION 'docs: projection has % paths, more than 100', pg_catalog.cardinality(paths) USING ERRCODE = '54000';
  END IF;
END
$$;

-- The document with only (keep) or without (not keep) the paths, which are dotted.
CREATE FUNCTION pgstack.doc_project(doc jsonb, paths text[], keep boolean) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  out jsonb;
  path text;
  p text[];
  v jsonb;
BEGIN
  IF keep IS NULL THEN RETURN doc; END IF;
  IF NOT keep THEN
    out := doc;
    FOREACH path IN ARRAY paths LOOP
      out := out #- pg_catalog.string_to_array(path, '.');
    END LOOP;
    RETURN out;
  END IF;
  out := '{}';
  FOREACH path IN ARRAY paths LOOP
    p := pg_catalog.string_to_array(path, '.');
    v := doc #> p;
    IF v IS NOT NULL THEN
      BEGIN
        out := pgstack.doc_set_path(out, p, v);
      EXCEPTION WHEN invalid_parameter_value THEN
        NULL;  -- {"a": 1, "a.b": 1}: a is kept whole already
      END;
    END IF;
  END LOOP;
  RETURN out;
END
$$;

-- What doc_find runs, compiled: the filter's predicate, the sort, the cursor each row
-- gets, the predicate of the rows after `after`, and the projection; all on the
-- columns doc and id, values in params ($1). rest_predicate, when set, selects the
-- rows without a first sort key, which follow the others ascending (doc_after_sql).
-- Runs as the owner for the reason doc_compile_filter does; reads and writes nothing.
CREATE TYPE pgstack.doc_query AS (predicate text, order_by text, cursor text, after_predicate text,
                                  rest_predicate text, paths text[], keep boolean, params jsonb[]);

CREATE FUNCTION pgstack.doc_compile_find(filter jsonb DEFAULT '{}', sort jsonb DEFAULT NULL,
                                         projection jsonb DEFAULT NULL, after jsonb DEFAULT NULL)
RETURNS pgstack.doc_query
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  q pgstack.doc_query;
  f pgstack.doc_sql;
  a pgstack.doc_sql;
  keys pgstack.doc_sort_key[];
  k pgstack.doc_sort_key;
  proj record;
BEGIN
  f := pgstack.doc_filter_sql(coalesce(filter, '{}'), 'doc', '{}', '', 0);
  keys := pgstack.doc_sort_keys(sort, 'doc');
  proj := pgstack.doc_projection_paths(projection);
  q.order_by := '';
  q.cursor := '';
  FOREACH k IN ARRAY keys LOOP
    q.order_by := q.order_by || k.expr || CASE WHEN k.descending THEN ' DESC' ELSE '' END || ', ';
    q.cursor := q.cursor || pg_catalog.format(
      'CASE WHEN %1$s IS NULL THEN ''null''::jsonb ELSE pg_catalog.jsonb_build_array(%1$s) END, ', k.expr);
  END LOOP;
  q.order_by := q.order_by || 'id';
  q.cursor := 'pg_catalog.jsonb_build_array(' || q.cursor || 'id)';
  IF after IS NOT NULL THEN
    a := pgstack.doc_after_sql(keys, after, 'id', f.params);
    f.params := a.params;
    q.after_predicate := a.sql;
    IF NOT keys[1].descending AND pg_catalog.jsonb_typeof(after -> 0) <> 'null' THEN
      q.rest_predicate := keys[1].expr || ' IS NULL';
    END IF;
  END IF;
  q.predicate := f.sql;
  q.paths := proj.paths;
  q.keep := proj.keep;
  q.params := f.params;
  RETURN q;
END
$$;

-- Finds documents: those matching `filter`, in `sort`'s order (then by id), at most
-- `max_rows` (1 to 10000), each with `cursor`: pass it as `after` for the rows that
-- follow it (keyset pagination: a page costs the same however deep it is).
--
--   SELECT id, doc FROM pgstack.doc_find('products', '{"tags": "sale", "price": {"$lt": 100}}',
--                                        sort => '[{"price": 1}]', max_rows => 20);
CREATE FUNCTION pgstack.doc_find(collection regclass, filter jsonb DEFAULT '{}', sort jsonb DEFAULT NULL,
                                 projection jsonb DEFAULT NULL, max_rows integer DEFAULT 100, after jsonb DEFAULT NULL)
RETURNS TABLE (id bigint, doc jsonb, version bigint, cursor jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  q pgstack.doc_query;
  base text;
  got bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'docs: max_rows % is not between 1 and 10000', coalesce(max_rows::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  q := pgstack.doc_compile_find(filter, sort, projection, after);
  base := pg_catalog.format('SELECT id, pgstack.doc_project(doc, $2, $3), version, %s FROM %s WHERE %s',
                            q.cursor, collection, q.predicate);
  RETURN QUERY EXECUTE pg_catalog.format('%s%s ORDER BY %s LIMIT $4', base,
                                         CASE WHEN q.after_predicate IS NULL THEN '' ELSE ' AND ' || q.after_predicate END, q.order_by)
    USING q.params, q.paths, q.keep, max_rows;
  IF q.rest_predicate IS NOT NULL THEN
    GET DIAGNOSTICS got = ROW_COUNT;
    IF got < max_rows THEN
      RETURN QUERY EXECUTE pg_catalog.format('%s AND %s ORDER BY %s LIMIT $4', base, q.rest_predicate, q.order_by)
        USING q.params, q.paths, q.keep, max_rows - got;
    END IF;
  END IF;
END
$$;

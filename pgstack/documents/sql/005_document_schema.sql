-- JSON Schema validation (docs/documents.md, "Validation"), enforced by the database
-- itself: pgstack.doc_schema_set compiles a schema into CHECK constraints, one per
-- rule, each a jsonpath test of the document (PostgreSQL's own C code, no function
-- call per row), named after the path and the rule so that a refused write says
-- what failed:
--
--   new row for relation "products" violates check constraint "doc: /price must be a number"
--
-- The subset: type (string number integer boolean object array null, or a list),
-- required, properties, additionalProperties: false, enum (of scalars), minimum,
-- maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength (up to 255),
-- pattern (PostgreSQL's regular expressions), items, minItems, maxItems. Anything
-- else is refused, so a schema never seems to check what it does not.

CREATE TYPE pgstack.doc_schema_rule AS (name text, jsonpath text);

-- The rules of `schema` at `location` (a strict jsonpath to the values it governs,
-- '$' for the document) and `pointer` (the same, for people: '/price', '/tags/*').
CREATE FUNCTION pgstack.doc_schema_rules(schema jsonb, location text, pointer text, depth integer)
RETURNS SETOF pgstack.doc_schema_rule
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  kw text;
  v jsonb;
  types text[];
  t text;
  tests text[];
  lit text;
  n numeric;
  where_ text := coalesce(nullif(pointer, ''), '/');
  known constant text[] := ARRAY['type', 'required', 'properties', 'additionalProperties', 'enum', 'minimum', 'maximum',
                                 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'items',
                                 'minItems', 'maxItems', 'title', 'description', '$schema', '$comment'];
BEGIN
  IF depth > 16 THEN
    RAISE EXCEPTION 'docs: the schema nests deeper than 16 levels at %', where_ USING ERRCODE = '54000';
  END IF;
  IF pg_catalog.jsonb_typeof(schema) <> 'object' THEN
    RAISE EXCEPTION 'docs: the schema at % is not an object', where_ USING ERRCODE = '22023';
  END IF;
  FOR kw, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(schema) e LOOP
    IF NOT kw = ANY (known) THEN
      RAISE EXCEPTION 'docs: the schema at % uses %, which pgstack does not check', where_, quote_literal(kw)
        USING ERRCODE = '0A000', HINT = 'Supported: ' || pg_catalog.array_to_string(known[1:15], ', ') || ' (docs/documents.md, "Validation").';
    END IF;
    CASE kw
      WHEN 'type' THEN
        types := CASE pg_catalog.jsonb_typeof(v) WHEN 'string' THEN ARRAY[v #>> '{}']
                      WHEN 'array' THEN ARRAY(SELECT x FROM pg_catalog.jsonb_array_elements_text(v) x) END;
        IF types IS NULL OR pg_catalog.cardinality(types) = 0 OR EXISTS (
             SELECT 1 FROM pg_catalog.unnest(types) x WHERE x NOT IN ('string', 'number', 'integer', 'boolean', 'object', 'array', 'null')) THEN
          RAISE EXCEPTION 'docs: type % at % is not valid', v::text, where_
            USING ERRCODE = '22023', HINT = 'A type is string, number, integer, boolean, object, array or null, or a list of them.';
        END IF;
        tests := '{}';
        FOREACH t IN ARRAY types LOOP
          tests := tests || CASE t WHEN 'integer' THEN '(@.type() == "number" && @ == @.floor())'
                                   ELSE pg_catalog.format('@.type() == "%s"', t) END;
        END LOOP;
        RETURN NEXT ROW(pg_catalog.format('%s must be %s', where_, pg_catalog.array_to_string(ARRAY(
                          SELECT CASE x WHEN 'null' THEN 'null' WHEN 'integer' THEN 'an integer' WHEN 'object' THEN 'an object'
                                        WHEN 'array' THEN 'an array' ELSE 'a ' || x END FROM pg_catalog.unnest(types) x), ' or ')),
                        pg_catalog.format('strict %s ? (!(%s))', location, pg_catalog.array_to_string(tests, ' || ')));
      WHEN 'required' THEN
        IF pg_catalog.jsonb_typeof(v) <> 'array' OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(v) x WHERE pg_catalog.jsonb_typeof(x) <> 'string') THEN
          RAISE EXCEPTION 'docs: required at % must be a list of field names', where_ USING ERRCODE = '22023';
        END IF;
        FOR t IN SELECT x FROM pg_catalog.jsonb_array_elements_text(v) x LOOP
          RETURN NEXT ROW(pg_catalog.format('%s requires %s', where_, t),
                          pg_catalog.format('strict %s ? (@.type() == "object" && !(@.keyvalue().key == %s))', location, pg_catalog.to_jsonb(t)::text));
        END LOOP;
      WHEN 'properties' THEN
        IF pg_catalog.jsonb_typeof(v) <> 'object' THEN
          RAISE EXCEPTION 'docs: properties at % must be an object of schemas', where_ USING ERRCODE = '22023';
        END IF;
        FOR t, lit IN SELECT e.key, e.value::text FROM pg_catalog.jsonb_each(v) e LOOP
          RETURN QUERY SELECT * FROM pgstack.doc_schema_rules(lit::jsonb, location || '.' || pg_catalog.to_jsonb(t)::text,
                                                              pointer || '/' || t, depth + 1);
        END LOOP;
      WHEN 'additionalProperties' THEN
        IF v <> 'false' THEN
          RAISE EXCEPTION 'docs: additionalProperties at % may only be false', where_ USING ERRCODE = '0A000';
        END IF;
        RETURN NEXT ROW(pg_catalog.format('%s allows no other fields', where_),
                        pg_catalog.format('strict %s.keyvalue() ? (!(%s))', location, coalesce(
                          (SELECT pg_catalog.string_agg('@.key == ' || pg_catalog.to_jsonb(k)::text, ' || ')
                             FROM pg_catalog.jsonb_object_keys(coalesce(schema -> 'properties', '{}')) k), 'false')));
      WHEN 'enum' THEN
        IF pg_catalog.jsonb_typeof(v) <> 'array' OR pg_catalog.jsonb_array_length(v) = 0 OR EXISTS (
             SELECT 1 FROM pg_catalog.jsonb_array_elements(v) x WHERE pg_catalog.jsonb_typeof(x) IN ('object', 'array')) THEN
          RAISE EXCEPTION 'docs: enum at % must be a non-empty list of strings, numbers, booleans or null', where_ USING ERRCODE = '22023';
        END IF;
        RETURN NEXT ROW(pg_catalog.format('%s must be one of %s', where_, v::text),
                        pg_catalog.format('strict %s ? (!(%s))', location,
                          (SELECT pg_catalog.string_agg('@ == ' || x::text, ' || ') FROM pg_catalog.jsonb_array_elements(v) x)));
      WHEN 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum' THEN
        IF pg_catalog.jsonb_typeof(v) <> 'number' THEN
          RAISE EXCEPTION 'docs: % at % must be a number', kw, where_ USING ERRCODE = '22023';
        END IF;
        RETURN NEXT ROW(pg_catalog.format('%s must be %s %s', where_,
                          CASE kw WHEN 'minimum' THEN '>=' WHEN 'maximum' THEN '<=' WHEN 'exclusiveMinimum' THEN '>' ELSE '<' END, v::text),
                        pg_catalog.format('strict %s ? (@.type() == "number" && @ %s %s)', location,
                          CASE kw WHEN 'minimum' THEN '<' WHEN 'maximum' THEN '>' WHEN 'exclusiveMinimum' THEN '<=' ELSE '>=' END, v::text));
      WHEN 'minLength', 'maxLength', 'minItems', 'maxItems' THEN
        IF pg_catalog.jsonb_typeof(v) <> 'number' OR v::numeric <> pg_catalog.floor(v::numeric) OR v::numeric < 0
           OR (kw IN ('minLength', 'maxLength') AND v::numeric > 255) OR v::numeric > 1000000 THEN
          RAISE EXCEPTION 'docs: % at % must be a whole number%', kw, where_,
            CASE WHEN kw LIKE '%Length' THEN ' from 0 to 255' ELSE '' END USING ERRCODE = '22023';
        END IF;
        n := v::numeric;
        RETURN NEXT ROW(pg_catalog.format('%s %s %s %s%s', where_, CASE WHEN kw LIKE 'min%' THEN 'needs at least' ELSE 'allows at most' END,
                                          n, CASE WHEN kw LIKE '%Length' THEN 'character' ELSE 'item' END, CASE WHEN n = 1 THEN '' ELSE 's' END),
                        CASE kw
                          WHEN 'minItems' THEN pg_catalog.format('strict %s ? (@.type() == "array" && @.size() < %s)', location, n)
                          WHEN 'maxItems' THEN pg_catalog.format('strict %s ? (@.type() == "array" && @.size() > %s)', location, n)
                          WHEN 'minLength' THEN pg_catalog.format('strict %s ? (@.type() == "string" && !(@ like_regex "^.{%s,}" flag "s"))', location, n)
                          ELSE pg_catalog.format('strict %s ? (@.type() == "string" && !(@ like_regex "^.{0,%s}$" flag "s"))', location, n) END);
      WHEN 'pattern' THEN
        IF pg_catalog.jsonb_typeof(v) <> 'string' THEN
          RAISE EXCEPTION 'docs: pattern at % must be a string', where_ USING ERRCODE = '22023';
        END IF;
        BEGIN
          PERFORM '' ~ (v #>> '{}');
        EXCEPTION WHEN invalid_regular_expression THEN
          RAISE EXCEPTION 'docs: pattern % at % is not a valid regular expression', v::text, where_ USING ERRCODE = '22023';
        END;
        RETURN NEXT ROW(pg_catalog.format('%s must match %s', where_, v::text),
                        pg_catalog.format('strict %s ? (@.type() == "string" && !(@ like_regex %s))', location, v::text));
      WHEN 'items' THEN
        RETURN QUERY SELECT * FROM pgstack.doc_schema_rules(v, location || '[*]', pointer || '/*', depth + 1);
      ELSE
        NULL;  -- title, description, $schema, $comment: for people
    END CASE;
  END LOOP;
END
$$;

-- A rule's constraint name: "doc: <rule>", cut to PostgreSQL's 63 bytes on a
-- character boundary (a longer one ends in "..."), made unique by a number if needed.
CREATE FUNCTION pgstack.doc_constraint_name(rule text, taken text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  name text := 'doc: ' || rule;
  candidate text;
  i integer := 1;
BEGIN
  WHILE octet_length(name) > 63 LOOP
    name := pg_catalog.left(name, -1);
  END LOOP;
  IF octet_length('doc: ' || rule) > 63 THEN
    WHILE octet_length(name || '...') > 63 LOOP name := pg_catalog.left(name, -1); END LOOP;
    name := name || '...';
  END IF;
  candidate := name;
  WHILE candidate = ANY (taken) LOOP
    i := i + 1;
    candidate := name;
    WHILE octet_length(candidate || ' #' || i) > 63 LOOP candidate := pg_catalog.left(candidate, -1); END LOOP;
    candidate := candidate || ' #' || i;
  END LOOP;
  RETURN candidate;
END
$$;

-- The constraints a schema becomes: each one's name and the jsonpath of its rule (the constraint is CHECK (NOT (doc @? jsonpath))). Refuses what the
-- subset does not cover. Runs as the owner for the reason doc_compile_filter does;
-- reads and writes nothing.
CREATE FUNCTION pgstack.doc_compile_schema(schema jsonb)
RETURNS SETOF pgstack.doc_schema_rule
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  rule pgstack.doc_schema_rule;
  names text[] := '{}';
BEGIN
  IF schema IS NULL THEN RETURN; END IF;
  FOR rule IN SELECT * FROM pgstack.doc_schema_rules(schema, '$', '', 0) LOOP
    BEGIN
      PERFORM rule.jsonpath::jsonpath;
    EXCEPTION WHEN OTHERS THEN
      RAISE EXCEPTION 'docs: the rule "%" cannot be checked: %', rule.name, SQLERRM USING ERRCODE = '22023';
    END;
    rule.name := pgstack.doc_constraint_name(rule.name, names);
    names := names || rule.name;
    RETURN NEXT rule;
  END LOOP;
END
$$;

-- Sets (or, with NULL, removes) the collection's JSON Schema; returns how many rules
-- it checks. The documents already there are checked first unless check_existing is
-- false (then only writes from now on are); one that fails is named, with its rule, and
-- nothing changes. Needs the table's owner, as any ALTER TABLE.
CREATE FUNCTION pgstack.doc_schema_set(collection regclass, schema jsonb, check_existing boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  rules pgstack.doc_schema_rule[];
  r pgstack.doc_schema_rule;
  old_name text;
  failing bigint;
  first_id bigint;
BEGIN
  PERFORM pgstack.doc_require_collection(collection);
  rules := ARRAY(SELECT c FROM pgstack.doc_compile_schema(schema) c);  -- refuses a bad schema before anything changes
  IF check_existing THEN
    FOREACH r IN ARRAY rules LOOP
      EXECUTE pg_catalog.format('SELECT count(*), min(id) FROM %s WHERE doc @? %L::jsonpath', collection, r.jsonpath)
        INTO failing, first_id;
      IF failing > 0 THEN
        RAISE EXCEPTION 'docs: % document(s) of % fail "%" (the first: id %); the schema was not set',
          failing, collection, pg_catalog.substr(r.name, 6), first_id
          USING ERRCODE = '23514', HINT = 'Fix those documents first, or pass check_existing => false to check only what is written from now on.';
      END IF;
    END LOOP;
  END IF;
  FOR old_name IN SELECT c.conname FROM pg_catalog.pg_constraint c
                   WHERE c.conrelid = collection AND c.contype = 'c' AND (c.conname LIKE 'doc: %' OR c.conname = 'doc_schema') LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', collection, old_name);
  END LOOP;
  IF schema IS NULL THEN RETURN 0; END IF;
  -- NOT VALID: the documents there were checked above (or are not to be), so adding
  -- the constraints needs no second scan under the table's lock.
  FOREACH r IN ARRAY rules LOOP
    EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (NOT (doc @? %L::jsonpath)) NOT VALID',
                              collection, r.name, r.jsonpath);
  END LOOP;
  -- The schema as given, for pgstack.doc_schema() and for people reading \d+.
  EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT doc_schema CHECK (true)', collection);
  EXECUTE pg_catalog.format('COMMENT ON CONSTRAINT doc_schema ON %s IS %L', collection, schema::text);
  RETURN pg_catalog.cardinality(rules);
END
$$;

-- The collection's JSON Schema, or NULL when it has none.
CREATE FUNCTION pgstack.doc_schema(collection regclass) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pg_catalog.obj_description(c.oid, 'pg_constraint')::jsonb
    FROM pg_catalog.pg_constraint c WHERE c.conrelid = collection AND c.conname = 'doc_schema'
$$;

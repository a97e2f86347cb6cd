-- Documents (docs/documents.md): JSON documents in jsonb columns, queried by filters
-- that compile to SQL the indexes serve. This file: the value extractors that
-- expression indexes are built on, and the parsing of paths.
--
-- A path names a value inside a document with dots: 'price', 'address.city',
-- 'items.0.sku' (a number steps into an array). It is kept as text[] ('{address,city}')
-- and applied with #>, so '{items,0,sku}' works on arrays as on objects.

-- The typed values range filters compare and typed indexes hold: a value of another
-- JSON type (or none) is NULL, so it never matches a range and never raises an error.
-- IMMUTABLE, so `pgstack docs index` can build an expression index on them.
CREATE FUNCTION pgstack.doc_number(value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT CASE WHEN pg_catalog.jsonb_typeof(value) = 'number' THEN value::numeric END $$;

CREATE FUNCTION pgstack.doc_text(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT CASE WHEN pg_catalog.jsonb_typeof(value) = 'string' THEN value #>> '{}' END $$;

-- A timestamp is a JSON string in ISO 8601 with its offset ('2026-12-04T10:00:00Z',
-- '2026-12-04 10:00:00+01:00'): only then does it name one instant whatever the
-- session's time zone, which is what makes this IMMUTABLE in truth. Other strings, and
-- times without an offset, are NULL.
CREATE FUNCTION pgstack.doc_timestamp(value jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  s text;
BEGIN
  IF pg_catalog.jsonb_typeof(value) <> 'string' THEN RETURN NULL; END IF;
  s := value #>> '{}';
  IF s !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$' THEN RETURN NULL; END IF;
  RETURN s::timestamptz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
  RETURN NULL;  -- '2026-02-30T00:00:00Z': the shape of a time, not a time
END
$$;

-- 'address.city' -> '{address,city}'. `at` names where the path was found, for the
-- error: "docs: path '' in filter at /$and/0 is not valid".
CREATE FUNCTION pgstack.doc_path(path text, at text DEFAULT 'the call') RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  parts text[];
BEGIN
  IF path IS NULL OR octet_length(path) NOT BETWEEN 1 AND 1024 OR path ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'docs: path % in % is not valid', coalesce(quote_literal(path), 'NULL'), at
      USING ERRCODE = '22023', HINT = 'A path is 1 to 1024 bytes of field names joined by dots, e.g. ''address.city''; no control characters.';
  END IF;
  parts := pg_catalog.string_to_array(path, '.');
  IF '' = ANY (parts) OR pg_catalog.cardinality(parts) > 32 THEN
    RAISE EXCEPTION 'docs: path % in % is not valid', quote_literal(path), at
      USING ERRCODE = '22023', HINT = 'A path is up to 32 non-empty field names joined by dots (no leading, trailing or double dot).';
  END IF;
  IF parts[1] LIKE '$%' THEN
    RAISE EXCEPTION 'docs: unknown operator % in %', quote_literal(parts[1]), at
      USING ERRCODE = '22023', HINT = 'Operators: $eq $ne $gt $gte $lt $lte $in $nin $all $exists $elemMatch $not, and $and $or $nor $jsonpath $jsonpath_match at the top of a filter (docs/documents.md).';
  END IF;
  RETURN parts;
END
$$;

-- A path as jsonpath text, each key a quoted JSON string: '{address,city}' ->
-- '$."address"."city"', '{items,0,sku}' -> '$."items"[0]."sku"' (a number is an array
-- position, as with #>). The keys are quoted by PostgreSQL's own JSON output, so no
-- key can change the jsonpath's meaning.
CREATE FUNCTION pgstack.doc_jsonpath_of(path text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT '$' || coalesce(pg_catalog.string_agg(CASE WHEN k ~ '^[0-9]{1,9}$' THEN '[' || k || ']'
                                                     ELSE '.' || pg_catalog.to_jsonb(k)::text END, '' ORDER BY i), '')
    FROM pg_catalog.unnest(path) WITH ORDINALITY AS u(k, i)
$$;

-- The docs module's SQL API (docs/documents.md), pinned in SQL: collections, the filter
-- language and the indexes that serve it, sorting, projections and keyset pages,
-- partial updates, optimistic concurrency, JSON Schema validation, and who may call
-- what. Run as the stack's application role `app` (a member of readwrite), in one
-- transaction that is rolled back; its collections are temporary tables (app may not
-- create in public, where the stack's `migrations` role puts real ones).
BEGIN;
SELECT plan(252);

-- ---- the API: what exists, and who may call it ------------------------------------
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('doc_number', '{jsonb}', true),
  ('doc_text', '{jsonb}', true),
  ('doc_timestamp', '{jsonb}', true),
  ('doc_compile_filter', '{jsonb,text}', true),
  ('doc_compile_update', '{jsonb,text,integer}', true),
  ('doc_compile_find', '{jsonb,jsonb,jsonb,jsonb}', true),
  ('doc_compile_schema', '{jsonb}', true),
  ('doc_is_collection', '{regclass}', true),
  ('doc_require_collection', '{regclass}', true),
  ('doc_require_version', '{regclass,bigint,bigint}', true),
  ('doc_set_path', '{jsonb,text[],jsonb}', true),
  ('doc_unset', '{jsonb,text[]}', true),
  ('doc_inc', '{jsonb,text[],numeric}', true),
  ('doc_push', '{jsonb,text[],jsonb}', true),
  ('doc_pull', '{jsonb,text[],jsonb}', true),
  ('doc_rename', '{jsonb,text[],text[]}', true),
  ('doc_project', '{jsonb,text[],boolean}', true),
  ('doc_find', '{regclass,jsonb,jsonb,jsonb,integer,jsonb}', true),
  ('doc_get', '{regclass,bigint}', true),
  ('doc_count', '{regclass,jsonb}', true),
  ('doc_schema', '{regclass}', true),
  ('doc_index_sql', '{regclass,text,text,boolean}', true),
  -- the capability contract (docs/architecture.md): doctor and metrics call them
  ('docs_health', '{jsonb}', true),
  ('docs_metrics', '{}', true),
  ('doc_collection_create', '{text,text}', false),
  ('doc_insert', '{regclass,jsonb}', false),
  ('doc_insert_many', '{regclass,jsonb[]}', false),
  ('doc_update', '{regclass,bigint,jsonb,bigint}', false),
  ('doc_replace', '{regclass,bigint,jsonb,bigint}', false),
  ('doc_update_many', '{regclass,jsonb,jsonb}', false),
  ('doc_delete', '{regclass,bigint,bigint}', false),
  ('doc_delete_many', '{regclass,jsonb}', false),
  ('doc_schema_set', '{regclass,jsonb,boolean}', false);
-- readwrite may call every one; readonly only the reads; PUBLIC none; and no other
-- doc function (the compiler's parts) is executable by readwrite or readonly
-- (pgstack/schema/testing/api_privileges.sql).
SELECT * FROM pgstack_tap.api_privileges('docs', '^docs?_');
SELECT table_privs_are('pgstack', 'doc_collections', 'readonly', '{SELECT}'::name[]);
SELECT table_privs_are('pgstack', 'doc_collection_stats', 'readonly', '{SELECT}'::name[]);

-- ---- collections ---------------------------------------------------------------
SELECT throws_ok($$SELECT pgstack.doc_collection_create('pgtap_docs_probe')$$, '42501', 'permission denied for schema public',
                 'app may not create a collection in public: the migrations role does');
SELECT is(pgstack.doc_collection_create('products', 'pg_temp')::text, 'products', 'doc_collection_create returns the table');
SELECT is(pgstack.doc_collection_create('products', 'pg_temp')::text, 'products', '... and again is a no-op');
SELECT columns_are('products', ARRAY['id', 'doc', 'version', 'created_at', 'updated_at'], 'the schema template''s columns');
SELECT ok(pgstack.doc_is_collection('products'), 'doc_is_collection');
SELECT ok((SELECT count(*) = 1 FROM pgstack.doc_collections WHERE collection = 'products'::regclass), 'doc_collections lists it');
CREATE TEMP TABLE plain (id int);
SELECT throws_ok($$SELECT pgstack.doc_collection_create('plain', 'pg_temp')$$, '42P07', 'docs: pg_temp.plain exists and is not a collection');
SELECT throws_ok($$SELECT pgstack.doc_find('plain')$$, '42809', 'docs: plain is not a collection');
SELECT throws_ok($$SELECT pgstack.doc_collection_create('Bad Name', 'pg_temp')$$, '22023', 'docs: collection name ''Bad Name'' is not valid');
SELECT throws_ok($$SELECT pgstack.doc_collection_create('x', 'nope')$$, '3F000', 'docs: schema ''nope'' does not exist');
SELECT throws_ok($$SELECT pgstack.doc_find('products; drop table plain')$$, '42602', NULL, 'a collection name is a regclass: SQL in it is no name');

-- ---- inserting and reading -----------------------------------------------------
SELECT is(pgstack.doc_insert('products', '{"name": "lamp", "price": 30, "tags": ["home", "sale"], "stock": {"qty": 4, "where": "b"}}'), 1::bigint, 'doc_insert returns the id');
SELECT results_eq($$SELECT * FROM pgstack.doc_insert_many('products', ARRAY[
    '{"name": "desk", "price": 120.5, "tags": ["office"], "stock": {"qty": 0}}',
    '{"name": "chair", "price": 45, "tags": ["office", "sale"], "added": "2026-11-02T09:00:00Z"}',
    '{"name": "rug", "price": "call us", "items": [{"sku": "r1", "qty": 2}, {"sku": "r2", "qty": 9}]}',
    '{"name": "vase", "price": 12, "color": null, "added": "2026-12-01T12:00:00+01:00"}']::jsonb[])$$,
  $$VALUES (2::bigint), (3), (4), (5)$$, 'doc_insert_many returns the ids in order');
SELECT throws_ok($$SELECT pgstack.doc_insert('products', '[1, 2]')$$, '22023', 'docs: a document must be a JSON object, not array');
SELECT throws_ok($$SELECT pgstack.doc_insert_many('products', ARRAY['{}', '3']::jsonb[])$$, '22023', 'docs: every document must be a JSON object');
SELECT is(pgstack.doc_count('products'), 5::bigint, 'no refused insert wrote anything');
SELECT results_eq($$SELECT doc ->> 'name', version FROM pgstack.doc_get('products', 2)$$, $$VALUES ('desk', 1::bigint)$$, 'doc_get');
SELECT is_empty($$SELECT * FROM pgstack.doc_get('products', 99)$$, 'doc_get of a missing id: no row');

-- ---- filters -------------------------------------------------------------------
CREATE FUNCTION pg_temp.names(filter jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(doc ->> 'name', ',' ORDER BY id), '') FROM pgstack.doc_find('products', filter)
$$;
SELECT is(pg_temp.names('{}'), 'lamp,desk,chair,rug,vase', '{} matches every document');
SELECT is(pg_temp.names('{"name": "desk"}'), 'desk', 'equality');
SELECT is(pg_temp.names('{"tags": "sale"}'), 'lamp,chair', 'equality with an element of an array field');
SELECT is(pg_temp.names('{"stock.qty": 4}'), 'lamp', 'a nested path');
SELECT is(pg_temp.names('{"items.sku": "r2"}'), 'rug', 'a path through an array of objects');
SELECT is(pg_temp.names('{"items.1.qty": 9}'), 'rug', 'a number in a path is an array position');
SELECT is(pg_temp.names('{"price": 120.50}'), 'desk', 'numbers equal by value');
SELECT is(pg_temp.names('{"price": "30"}'), '', 'a string never equals a number');
SELECT is(pg_temp.names('{"stock": {"qty": 0}}'), 'desk', 'an object equals exactly...');
SELECT is(pg_temp.names('{"stock": {"qty": 4}}'), '', '... not by containment');
SELECT is(pg_temp.names('{"tags": ["office", "sale"]}'), 'chair', 'an array equals exactly');
SELECT is(pg_temp.names('{"color": null}'), 'lamp,desk,chair,rug,vase', 'null equals null and missing');
SELECT is(pg_temp.names('{"name": {"$eq": "rug"}}'), 'rug', '$eq');
SELECT is(pg_temp.names('{"tags": {"$ne": "sale"}}'), 'desk,rug,vase', '$ne: also where the field is missing');
SELECT is(pg_temp.names('{"name": {"$in": ["rug", "vase", "nope"]}}'), 'rug,vase', '$in');
SELECT is(pg_temp.names('{"name": {"$in": []}}'), '', '$in [] matches nothing');
SELECT is(pg_temp.names('{"tags": {"$nin": ["sale", "office"]}}'), 'rug,vase', '$nin');
SELECT is(pg_temp.names('{"tags": {"$all": ["office", "sale"]}}'), 'chair', '$all');
SELECT is(pg_temp.names('{"price": {"$gt": 30}}'), 'desk,chair', '$gt compares numbers only');
SELECT is(pg_temp.names('{"price": {"$gte": 30, "$lt": 100}}'), 'lamp,chair', '$gte and $lt together');
SELECT is(pg_temp.names('{"price": {"$lte": 12}}'), 'vase', '$lte');
SELECT is(pg_temp.names('{"price": {"$gte": "a"}}'), 'rug', 'a string range compares strings only');
SELECT is(pg_temp.names('{"added": {"$gt": {"$date": "2026-12-01T10:30:00Z"}}}'), 'vase', 'a $date range compares instants, offsets included');
SELECT is(pg_temp.names('{"color": {"$exists": true}}'), 'vase', '$exists true: present, even as null');
SELECT is(pg_temp.names('{"stock.where": {"$exists": false}}'), 'desk,chair,rug,vase', '$exists false on a nested path');
SELECT is(pg_temp.names('{"items": {"$elemMatch": {"sku": "r1", "qty": {"$gt": 1}}}}'), 'rug', '$elemMatch: one element matches every condition');
SELECT is(pg_temp.names('{"items": {"$elemMatch": {"sku": "r1", "qty": {"$gt": 5}}}}'), '', '... not conditions met by different elements');
SELECT is(pg_temp.names('{"tags": {"$elemMatch": {"$in": ["home"]}}}'), 'lamp', '$elemMatch with operators on the elements');
SELECT is(pg_temp.names('{"price": {"$not": {"$gt": 40}}}'), 'lamp,rug,vase', '$not: also where the comparison cannot hold');
SELECT is(pg_temp.names('{"$or": [{"name": "rug"}, {"price": {"$lt": 20}}]}'), 'rug,vase', '$or');
SELECT is(pg_temp.names('{"$and": [{"tags": "office"}, {"tags": "sale"}]}'), 'chair', '$and');
SELECT is(pg_temp.names('{"$nor": [{"tags": "office"}, {"name": "rug"}]}'), 'lamp,vase', '$nor');
SELECT is(pg_temp.names('{"$jsonpath": "$.items[*] ? (@.qty > 5)"}'), 'rug', '$jsonpath: the escape hatch');
SELECT is(pg_temp.names('{"$jsonpath_match": "$.price * 2 > 100"}'), 'desk', '$jsonpath_match');
SELECT is(pg_temp.names($${"name": "it's \"quoted\" \\ and $.x == 1 || true"}$$), '', 'a value cannot change the query''s meaning');

-- Bad filters: a clear error, naming the place, and nothing else happens.
SELECT throws_ok($$SELECT pg_temp.names('{"price": {"$foo": 1}}')$$, '22023', 'docs: unknown operator ''$foo'' at /price');
SELECT throws_ok($$SELECT pg_temp.names('{"$where": "1"}')$$, '22023', 'docs: unknown operator ''$where'' in filter at /$where');
SELECT throws_ok($$SELECT pg_temp.names('{"price": {"$gt": 1, "x": 2}}')$$, '22023', 'docs: {"x": 2, "$gt": 1} at /price mixes operators and fields');
SELECT throws_ok($$SELECT pg_temp.names('{"name": {"$in": "rug"}}')$$, '22023', 'docs: $in at /name needs an array, not "rug"');
SELECT throws_ok($$SELECT pg_temp.names('{"price": {"$gt": true}}')$$, '22023', 'docs: $gt at /price/$gt compares with true, which is not a number, a string or {"$date": ...}');
SELECT throws_ok($$SELECT pg_temp.names('{"added": {"$gt": {"$date": "yesterday"}}}')$$, '22023', 'docs: "yesterday" at /added/$gt is not a time');
SELECT throws_ok($$SELECT pg_temp.names('{"a..b": 1}')$$, '22023', 'docs: path ''a..b'' in filter at /a..b is not valid');
SELECT throws_ok($$SELECT pg_temp.names('{"$or": []}')$$, '22023', 'docs: $or at the top of the filter needs an array of 1 to 100 filters');
SELECT throws_ok($$SELECT pg_temp.names('{"$jsonpath": "$.a ? ("}')$$, '22023');
SELECT throws_ok($$SELECT pg_temp.names('[1]')$$, '22023', 'docs: a filter must be a JSON object, not [1]');
SELECT throws_ok($$SELECT pg_temp.names('{"a": {"$exists": 1}}')$$, '22023', 'docs: $exists at /a needs true or false, not 1');

-- ---- sorting, projections and keyset pages --------------------------------------
CREATE FUNCTION pg_temp.sorted(sort jsonb, max_rows integer DEFAULT 100, after jsonb DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(doc ->> 'name', ',' ORDER BY n), '')
    FROM pgstack.doc_find('products', '{}', sort, NULL, max_rows, after) WITH ORDINALITY AS r(id, doc, version, cursor, n)
$$;
SELECT is(pg_temp.sorted('[{"name": 1}]'), 'chair,desk,lamp,rug,vase', 'sort ascending');
SELECT is(pg_temp.sorted('{"name": -1}'), 'vase,rug,lamp,desk,chair', 'one key as an object, descending');
SELECT is(pg_temp.sorted('[{"price": 1}]'), 'rug,vase,lamp,chair,desk', 'jsonb order: strings before numbers');
SELECT is(pg_temp.sorted('[{"price": {"order": 1, "type": "numeric"}}]'), 'vase,lamp,chair,desk,rug', 'typed: numbers, then what has none');
SELECT is(pg_temp.sorted('[{"added": -1}, {"name": 1}]'), 'desk,lamp,rug,vase,chair', 'missing values first descending, then ties by the next key');
SELECT is(pg_temp.sorted('[{"added": {"order": 1, "type": "timestamp"}}]'), 'chair,vase,lamp,desk,rug', 'typed timestamps, missing last ascending, ties by id');
-- Page through every sort two rows at a time: the pages put together are the whole
-- order, each row once, whatever the direction and wherever values are missing.
CREATE FUNCTION pg_temp.paged(sort jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  out text[] := '{}';
  cur jsonb;
  r record;
  n integer;
BEGIN
  LOOP
    n := 0;
    FOR r IN SELECT * FROM pgstack.doc_find('products', '{}', sort, NULL, 2, cur) LOOP
      out := out || (r.doc ->> 'name');
      cur := r.cursor;
      n := n + 1;
    END LOOP;
    EXIT WHEN n < 2;
  END LOOP;
  RETURN array_to_string(out, ',');
END
$$;
SELECT is(pg_temp.paged(s), pg_temp.sorted(s), 'keyset pages make the whole order: ' || s::text)
  FROM unnest(ARRAY['[{"name": 1}]', '[{"price": -1}]', '[{"added": 1}]', '[{"added": -1}]',
                    '[{"added": {"order": 1, "type": "timestamp"}}, {"name": -1}]',
                    '[{"price": {"order": -1, "type": "numeric"}}]', '[{"color": 1}, {"price": 1}]']::jsonb[]) s;
SELECT is(pg_temp.sorted('[{"name": 1}]', 2, '[["desk"], 2]'), 'lamp,rug', 'after: the rows that follow the cursor');
SELECT throws_ok($$SELECT pg_temp.sorted('[{"name": 1}]', 2, '[["desk"]]')$$, '22023', 'docs: cursor [["desk"]] does not belong to this sort');
SELECT throws_ok($$SELECT pg_temp.sorted('[{"price": {"order": 1, "type": "numeric"}}]', 2, '[["x"], 1]')$$, '22023',
                 'docs: cursor [["x"], 1] does not belong to this sort');
SELECT throws_ok($$SELECT pg_temp.sorted('{"name": 1, "price": 1}')$$, '22023', 'docs: sort {"name": 1, "price": 1} is not valid');
SELECT throws_ok($$SELECT pg_temp.sorted('[{"name": 2}]')$$, '22023', 'docs: sort direction 2 for ''name'' is not valid');
SELECT throws_ok($$SELECT pg_temp.sorted('[{"name": {"order": 1, "type": "money"}}]')$$, '22023');
SELECT throws_ok($$SELECT * FROM pgstack.doc_find('products', max_rows => 0)$$, '22023', 'docs: max_rows 0 is not between 1 and 10000');
SELECT is((SELECT doc FROM pgstack.doc_find('products', '{"name": "lamp"}', projection => '{"name": 1, "stock.qty": 1}')),
          '{"name": "lamp", "stock": {"qty": 4}}'::jsonb, 'a projection keeps paths, nested ones inside their objects');
SELECT is((SELECT doc FROM pgstack.doc_find('products', '{"name": "lamp"}', projection => '{"tags": 0, "stock.where": 0}')),
          '{"name": "lamp", "price": 30, "stock": {"qty": 4}}'::jsonb, '... or drops them');
SELECT throws_ok($$SELECT * FROM pgstack.doc_find('products', projection => '{"name": 1, "tags": 0}')$$, '22023',
                 'docs: projection {"name": 1, "tags": 0} both keeps and drops paths');

-- ---- updates -------------------------------------------------------------------
SELECT results_eq($$SELECT version, doc FROM pgstack.doc_update('products', 1,
    '{"$set": {"stock.where": "c", "dims.w": 40}, "$inc": {"price": 2.5, "views": 1}, "$push": {"tags": "new"},
      "$unset": {"name": ""}, "$rename": {"stock.qty": "stock.count"}}')$$,
  $$VALUES (2::bigint, '{"tags": ["home", "sale", "new"], "price": 32.5, "views": 1, "stock": {"where": "c", "count": 4}, "dims": {"w": 40}}'::jsonb)$$,
  'doc_update: $set (making objects on the way), $inc (a missing value counts 0), $push, $unset, $rename, and the version');
SELECT results_eq($$SELECT version, doc -> 'tags' FROM pgstack.doc_update('products', 1, '{"$pull": {"tags": "sale"}}')$$,
                  $$VALUES (3::bigint, '["home", "new"]'::jsonb)$$, '$pull');
SELECT is_empty($$SELECT * FROM pgstack.doc_update('products', 99, '{"$set": {"a": 1}}')$$, 'doc_update of a missing id: no row');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$set": {"a": 1}}', expected_version => 1)$$, '40001',
                 'docs: products 1 is at version 3, not 1');
SELECT results_eq($$SELECT version FROM pgstack.doc_update('products', 1, '{"$set": {"name": "lamp"}}', expected_version => 3)$$,
                  $$VALUES (4::bigint)$$, '... and at the version expected, it applies');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$inc": {"tags": 1}}')$$, '22023', 'docs: cannot $inc tags: it is array, not a number');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$push": {"price": 1}}')$$, '22023', 'docs: cannot $push to price: it is number, not an array');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$set": {"price.x": 1}}')$$, '22023', 'docs: cannot set price.x inside price, which is number');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$set": {"tags.first": 1}}')$$, '22023',
                 'docs: cannot set tags.first: tags is an array');
SELECT is(pgstack.doc_unset('{"items": [{"sku": 1}]}', '{items,sku}'), '{"items": [{"sku": 1}]}'::jsonb,
          'doc_unset through an array by a name, not a position: nothing to remove');
SELECT is(pgstack.doc_unset('{"items": [{"sku": 1}]}', '{items,0,sku}'), '{"items": [{}]}'::jsonb, '... by a position: removed');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$set": {"a": 1}, "$inc": {"a.b": 1}}')$$, '22023',
                 'docs: the changes touch ''a.b'' and ''a'', which overlap');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"$merge": {"a": 1}}')$$, '22023', 'docs: unknown change ''$merge''');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 1, '{"name": "x"}')$$, '22023', 'docs: unknown change ''name''');
SELECT is((SELECT version FROM pgstack.doc_get('products', 1)), 4::bigint, 'no refused update changed the document');
SELECT is(pgstack.doc_update_many('products', '{"tags": "office"}', '{"$set": {"dept": "office"}, "$inc": {"views": 10}}'), 2::bigint,
          'doc_update_many: every match, in one statement');
SELECT is(pg_temp.names('{"dept": "office", "views": 10}'), 'desk,chair', '... with the changes applied');
SELECT is(pgstack.doc_replace('products', 5, '{"name": "vase", "price": 14}'), 2::bigint, 'doc_replace returns the new version');
SELECT is((SELECT doc FROM pgstack.doc_get('products', 5)), '{"name": "vase", "price": 14}'::jsonb, '... and the document is the new one');
SELECT throws_ok($$SELECT pgstack.doc_replace('products', 5, '{"name": "x"}', expected_version => 1)$$, '40001');
SELECT is(pgstack.doc_delete('products', 4), true, 'doc_delete');
SELECT is(pgstack.doc_delete('products', 4), false, '... twice: nothing to delete');
SELECT throws_ok($$SELECT pgstack.doc_delete('products', 5, expected_version => 1)$$, '40001');
SELECT throws_ok($$SELECT pgstack.doc_delete_many('products', '{}')$$, '22023',
                 'docs: doc_delete_many with an empty filter would delete every document of products');
SELECT is(pgstack.doc_delete_many('products', '{"dept": "office"}'), 2::bigint, 'doc_delete_many');
SELECT is(pg_temp.names('{}'), 'lamp,vase', '... leaves the rest');
-- For a jsonb column of any table: the compilers.
CREATE TEMP TABLE orders (id int PRIMARY KEY, attrs jsonb);
INSERT INTO orders VALUES (1, '{"channel": "web", "n": 1}'), (2, '{"channel": "shop", "n": 2}');
CREATE FUNCTION pg_temp.run_compiled(filter jsonb, changes jsonb) RETURNS SETOF orders LANGUAGE plpgsql AS $$
DECLARE
  f record := pgstack.doc_compile_filter(filter, 'attrs');
  u record := pgstack.doc_compile_update(changes, 'attrs', cardinality(f.params) + 1);
BEGIN
  RETURN QUERY EXECUTE format('UPDATE orders SET attrs = %s WHERE %s RETURNING *', u.expression, f.predicate) USING f.params || u.params;
END
$$;
SELECT results_eq($$SELECT id, attrs FROM pg_temp.run_compiled('{"channel": "web"}', '{"$inc": {"n": 5}}')$$,
                  $$VALUES (1, '{"channel": "web", "n": 6}'::jsonb)$$, 'doc_compile_filter and doc_compile_update on a column of your own table');

-- ---- JSON Schema validation ----------------------------------------------------
SELECT is(pgstack.doc_schema_set('products', '{"type": "object", "required": ["name"],
  "properties": {"name": {"type": "string", "minLength": 1}, "price": {"type": "number", "minimum": 0},
                 "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}}}'), 9, 'doc_schema_set: 9 rules');
SELECT throws_ok($$SELECT pgstack.doc_insert('products', '{"price": 3}')$$, '23514',
                 'new row for relation "products" violates check constraint "doc: / requires name"');
SELECT throws_ok($$SELECT pgstack.doc_insert('products', '{"name": "x", "price": "3"}')$$, '23514',
                 'new row for relation "products" violates check constraint "doc: /price must be a number"');
SELECT throws_ok($$SELECT pgstack.doc_insert('products', '{"name": "x", "tags": ["a", 1]}')$$, '23514',
                 'new row for relation "products" violates check constraint "doc: /tags/* must be a string"');
SELECT throws_ok($$SELECT * FROM pgstack.doc_update('products', 5, '{"$set": {"price": -1}}')$$, '23514',
                 'new row for relation "products" violates check constraint "doc: /price must be >= 0"');
SELECT lives_ok($$SELECT pgstack.doc_insert('products', '{"name": "bowl", "price": 8, "tags": ["kitchen"]}')$$, 'a document that conforms');
SELECT is(pgstack.doc_schema('products') -> 'required', '["name"]'::jsonb, 'doc_schema returns it');
SELECT throws_ok($$SELECT pgstack.doc_schema_set('products', '{"properties": {"price": {"type": "string"}}}')$$, '23514',
                 'docs: 3 document(s) of products fail "/price must be a string" (the first: id 1); the schema was not set');
SELECT is(pgstack.doc_schema('products') -> 'required', '["name"]'::jsonb, '... and the schema before stays');
SELECT throws_ok($$SELECT pgstack.doc_schema_set('products', '{"oneOf": []}')$$, '0A000', 'docs: the schema at / uses ''oneOf'', which pgstack does not check');
SELECT throws_ok($$SELECT pgstack.doc_schema_set('products', '{"properties": {"sku": {"pattern": "("}}}')$$, '22023',
                 'docs: pattern "(" at /sku is not a valid regular expression');
SELECT is(pgstack.doc_schema_set('products', NULL), 0, 'NULL removes the schema');
SELECT lives_ok($$SELECT pgstack.doc_insert('products', '{"price": "free"}')$$, '... and with it the checks');

-- ---- doctor and metrics ----------------------------------------------------------
-- (That the checks fire needs statistics, which a transaction's own reads reach only
-- after it ends: collection_test.cc shows it.)
SELECT results_eq($$SELECT check_name, severity FROM pgstack.docs_health() ORDER BY 1$$,
                  $$VALUES ('doc_seq_scans', 'ok'), ('doc_toast', 'ok')$$, 'docs_health: one ok row per check it ran');
SELECT ok((SELECT count(*) = 6 FROM pgstack.docs_metrics() WHERE labels ->> 'collection' = 'products'),
          'docs_metrics: six samples per collection');

-- ---- every operator is served by an index when one exists ------------------------
-- A collection large enough that the planner's choices mean something, its typed
-- indexes as `pgstack docs index` makes them, and sequential scans priced out: each
-- operator's SQL must then be able to use an index (an operator that cannot would
-- still scan the table, and the test would see it).
SELECT is(pgstack.doc_collection_create('catalog', 'pg_temp')::text, 'catalog', 'a collection to plan queries on');
INSERT INTO catalog (doc)
SELECT jsonb_build_object('sku', 's' || i, 'price', i % 1000, 'tags', jsonb_build_array('t' || (i % 40)),
                          'added', to_char(timestamptz '2026-01-01' + i * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                          'top', i % 7)
  FROM generate_series(1, 20000) i;
CREATE INDEX catalog_price ON catalog ((pgstack.doc_number(doc #> '{price}'::text[])));
CREATE INDEX catalog_sku ON catalog ((pgstack.doc_text(doc #> '{sku}'::text[])));
CREATE INDEX catalog_added ON catalog ((pgstack.doc_timestamp(doc #> '{added}'::text[])));
CREATE INDEX catalog_keys ON catalog USING gin (doc);
CREATE INDEX catalog_price_order ON catalog ((doc #> '{price}'::text[]));
ANALYZE catalog;
SELECT results_eq($$SELECT index_name, statement FROM pgstack.doc_index_sql('catalog', 'stock.qty')$$,
  $$VALUES ('catalog_stock_qty_numeric', 'CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_stock_qty_numeric ON catalog ((pgstack.doc_number(doc #> ''{stock,qty}''::text[])))')$$,
  'doc_index_sql: the index that serves ranges on a path, written as the compiler writes the range');
SELECT is((SELECT index_name FROM pgstack.doc_index_sql('catalog', 'Sku-Code', 'text', true)), 'catalog_sku_code_text_key', 'a unique one, named in lower case');
SELECT throws_ok($$SELECT * FROM pgstack.doc_index_sql('catalog', 'x', 'money')$$, '22023', 'docs: index type ''money'' is not valid');
SET LOCAL enable_seqscan = off;
CREATE FUNCTION pg_temp.plan_of(filter jsonb, sort jsonb DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  q pgstack.doc_query := pgstack.doc_compile_find(filter, sort);
  plan json;
BEGIN
  -- The filter alone; with a sort, the sort and a page (an ORDER BY id LIMIT would let
  -- the planner walk the primary key instead, a fair plan but not the question here).
  EXECUTE format('EXPLAIN (FORMAT JSON) SELECT id FROM catalog WHERE %s %s', q.predicate,
                 CASE WHEN sort IS NULL THEN '' ELSE 'ORDER BY ' || q.order_by || ' LIMIT 10' END)
    INTO plan USING q.params;
  RETURN plan::text;
END
$$;
-- gin: either GIN index of the collection (jsonb_path_ops, which every collection has,
-- or jsonb_ops, which also serves $exists); the planner picks the cheaper.
SELECT ok(pg_temp.plan_of(f) ~ ('"Index Name": "(' || replace(ix, 'gin', 'catalog_doc_gin|catalog_keys') || ')"')
          AND pg_temp.plan_of(f) !~ '"Seq Scan"',
          format('%s is served by %s', f, ix))
  FROM (VALUES ('{"tags": "t3"}'::jsonb, 'gin'), ('{"tags": {"$in": ["t3", "t4"]}}', 'gin'),
               ('{"tags": {"$all": ["t3", "t4"]}}', 'gin'), ('{"sku": "s42"}', 'gin'),
               ('{"price": {"$gt": 990}}', 'catalog_price'), ('{"price": {"$gte": 5, "$lt": 6}}', 'catalog_price'),
               ('{"price": {"$lte": 1}}', 'catalog_price'), ('{"sku": {"$gt": "s9999"}}', 'catalog_sku'),
               ('{"added": {"$lt": {"$date": "2026-01-01T01:00:00Z"}}}', 'catalog_added'),
               ('{"top": {"$exists": true}, "price": 3}', 'catalog_keys'),
               ('{"$jsonpath": "$.tags[*] ? (@ == \"t5\")"}', 'gin'),
               ('{"$jsonpath_match": "$.sku == \"s7\""}', 'gin'),
               ('{"$or": [{"sku": "s1"}, {"price": {"$gt": 998}}]}', 'catalog_price'),
               ('{"stock": {"qty": 0}}', 'gin')) AS t(f, ix);
SELECT ok(pg_temp.plan_of('{}', '[{"price": -1}]') ~ '"Index Name": "catalog_price_order"', 'a sort by a path is served by its index');
SELECT ok(pg_temp.plan_of('{}', '[{"price": {"order": 1, "type": "numeric"}}]') ~ '"Index Name": "catalog_price"',
          'a typed sort by its typed index');

SELECT * FROM finish();
ROLLBACK;

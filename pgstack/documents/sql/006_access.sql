-- Who may call what (docs/documents.md lists the API). Every function runs as its
-- caller except the compilers (doc_compile_*), which read and write nothing and run
-- as the owner only so that their internal parts need not be executable by any
-- application role. A collection is the application's table: its own privileges say
-- who reads and writes its documents.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'pgstack'::regnamespace AND p.proname LIKE 'doc\_%' LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$$;

-- Reading: the readonly role too.
GRANT EXECUTE ON FUNCTION
  pgstack.doc_number(jsonb), pgstack.doc_text(jsonb), pgstack.doc_timestamp(jsonb),
  pgstack.doc_compile_filter(jsonb, text), pgstack.doc_compile_update(jsonb, text, integer),
  pgstack.doc_compile_find(jsonb, jsonb, jsonb, jsonb), pgstack.doc_compile_schema(jsonb),
  pgstack.doc_is_collection(regclass), pgstack.doc_require_collection(regclass),
  pgstack.doc_require_version(regclass, bigint, bigint),
  pgstack.doc_set_path(jsonb, text[], jsonb), pgstack.doc_unset(jsonb, text[]), pgstack.doc_inc(jsonb, text[], numeric),
  pgstack.doc_push(jsonb, text[], jsonb), pgstack.doc_pull(jsonb, text[], jsonb),
  pgstack.doc_rename(jsonb, text[], text[]), pgstack.doc_project(jsonb, text[], boolean),
  pgstack.doc_find(regclass, jsonb, jsonb, jsonb, integer, jsonb), pgstack.doc_get(regclass, bigint),
  pgstack.doc_count(regclass, jsonb), pgstack.doc_schema(regclass),
  pgstack.doc_index_sql(regclass, text, text, boolean)
TO readwrite, readonly;

-- Writing: readwrite only (and a collection's table privileges decide the rest).
GRANT EXECUTE ON FUNCTION
  pgstack.doc_collection_create(text, text),
  pgstack.doc_insert(regclass, jsonb), pgstack.doc_insert_many(regclass, jsonb[]),
  pgstack.doc_update(regclass, bigint, jsonb, bigint), pgstack.doc_replace(regclass, bigint, jsonb, bigint),
  pgstack.doc_update_many(regclass, jsonb, jsonb), pgstack.doc_delete(regclass, bigint, bigint),
  pgstack.doc_delete_many(regclass, jsonb), pgstack.doc_schema_set(regclass, jsonb, boolean)
TO readwrite;

REVOKE ALL ON pgstack.doc_collections FROM PUBLIC;
GRANT SELECT ON pgstack.doc_collections TO readwrite, readonly;

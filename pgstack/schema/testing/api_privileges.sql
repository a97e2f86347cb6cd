-- The privilege checks every module's pgTAP file makes, written once (docs/testing.md,
-- "SQL-level tests (pgTAP)"). sql_contract_test installs this into the test template,
-- beside pgTAP; it is never part of a stack.
--
-- A module's file lists its documented API in a temp table and calls the check:
--
--   CREATE TEMP TABLE api (fn name, args name[], reads boolean);
--   INSERT INTO api VALUES ('kv_get', '{text,text}', true), ('kv_set', ...);
--   SELECT * FROM pgstack_tap.api_privileges('kv', '^(kv_|cache_)');
--
-- It emits 3 tests per api row, plus 2:
--   * each function exists with those argument types;
--   * readwrite may execute each; readonly exactly those marked `reads`;
--   * PUBLIC may execute none of the module's functions (names matching `functions`);
--   * no function of the module outside the API (an internal helper) is executable by
--     readwrite or readonly. A temp table `deprecated (fn name, args name[], ...)`, when
--     the file has one, lists old names kept for a release; they count as API.
CREATE SCHEMA pgstack_tap;
GRANT USAGE ON SCHEMA pgstack_tap TO PUBLIC;

CREATE FUNCTION pgstack_tap.api_privileges(module text, functions text) RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = public, pg_catalog, pg_temp
AS $$
DECLARE
  a record;
  listed regprocedure[];
BEGIN
  FOR a IN SELECT fn, args FROM pg_temp.api ORDER BY fn, args LOOP
    RETURN NEXT has_function('pgstack', a.fn, a.args, format('pgstack.%s(%s) exists', a.fn, array_to_string(a.args, ', ')));
  END LOOP;
  FOR a IN SELECT fn, args FROM pg_temp.api ORDER BY fn, args LOOP
    RETURN NEXT function_privs_are('pgstack', a.fn, a.args, 'readwrite', '{EXECUTE}'::name[]);
  END LOOP;
  FOR a IN SELECT fn, args, reads FROM pg_temp.api ORDER BY fn, args LOOP
    RETURN NEXT function_privs_are('pgstack', a.fn, a.args, 'readonly',
                                   CASE WHEN a.reads THEN '{EXECUTE}' ELSE '{}' END::name[]);
  END LOOP;
  RETURN NEXT is_empty(format($q$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'pgstack'::regnamespace AND p.proname ~ %L
       AND has_function_privilege('public', p.oid, 'EXECUTE') $q$, functions),
    format('PUBLIC may execute no %s function', module));

  SELECT array_agg(to_regprocedure(format('pgstack.%s(%s)', x.fn, array_to_string(x.args, ','))))
    INTO listed FROM pg_temp.api x;
  IF to_regclass('pg_temp.deprecated') IS NOT NULL THEN
    listed := listed || (SELECT array_agg(to_regprocedure(format('pgstack.%s(%s)', d.fn, array_to_string(d.args, ','))))
                           FROM pg_temp.deprecated d);
  END IF;
  -- A row that names no function fails its has_function test above; it must not also
  -- turn this check off (a NULL in `<> ALL` would make it pass whatever is granted).
  listed := array_remove(listed, NULL);
  RETURN NEXT is_empty(format($q$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'pgstack'::regnamespace AND p.proname ~ %L
       AND p.oid <> ALL (%L::regprocedure[])
       AND (has_function_privilege('readwrite', p.oid, 'EXECUTE') OR has_function_privilege('readonly', p.oid, 'EXECUTE'))
     ORDER BY 1 $q$, functions, listed),
    format('no %s function outside the documented API (an internal helper) is executable by readwrite or readonly', module));
END
$$;
GRANT EXECUTE ON FUNCTION pgstack_tap.api_privileges(text, text) TO PUBLIC;

-- The core module's SQL API (docs/maintenance.md, docs/migrations.md, docs/stack.md
-- "Roles" and "Security"), pinned in SQL: schema pgstack and who may do what in it,
-- the migration ledger, and housekeeping (pgstack.maintain()).
-- Run as the stack's application role `app` (a member of readwrite), in one transaction
-- that is rolled back. How to run it: docs/testing.md, "SQL-level tests (pgTAP)".
BEGIN;
SELECT plan(39);

-- ---- schema pgstack: readable by the application roles, written only through its
-- functions ------------------------------------------------------------------------
SELECT has_schema('pgstack');
SELECT schema_privs_are('pgstack', 'readwrite', '{USAGE}', 'readwrite may use schema pgstack, not create in it');
SELECT schema_privs_are('pgstack', 'readonly', '{USAGE}', 'readonly may use schema pgstack, not create in it');
SELECT schema_privs_are('pgstack', 'public', '{}', 'PUBLIC (any role that can connect) may not even use it');
SELECT throws_ok($$CREATE FUNCTION pgstack.kv_get(namespace text, key text, extra int) RETURNS bytea LANGUAGE sql AS 'SELECT NULL::bytea'$$,
                 '42501', 'permission denied for schema pgstack', 'app cannot add an overload to the API');

-- No function in the schema is executable by PUBLIC.
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'pgstack'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')$$,
                'no pgstack function is executable by PUBLIC');
-- The login roles hold nothing of their own in the schema: app may call exactly what
-- readwrite may, app_reader what readonly may.
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'pgstack'::regnamespace
                     AND has_function_privilege('app', p.oid, 'EXECUTE') <> has_function_privilege('readwrite', p.oid, 'EXECUTE')$$,
                'app may execute what readwrite may, no more');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'pgstack'::regnamespace
                     AND has_function_privilege('app_reader', p.oid, 'EXECUTE') <> has_function_privilege('readonly', p.oid, 'EXECUTE')$$,
                'app_reader may execute what readonly may, no more');
-- Every function pins search_path to pg_catalog, pgstack, pg_temp (no schema a
-- non-owner can write; pg_temp last, so a caller's temporary objects are never found
-- first); the one exception is kv_lookup, a SQL function the planner inlines, which a
-- pinned path would prevent.
SELECT results_eq($$SELECT p.proname::text COLLATE "default" FROM pg_proc p
                     WHERE p.pronamespace = 'pgstack'::regnamespace
                       AND NOT coalesce('search_path=pg_catalog, pgstack, pg_temp' = ANY (p.proconfig), false)
                     ORDER BY 1$$,
                  ARRAY['kv_lookup'], 'every pgstack function but kv_lookup pins search_path = pg_catalog, pgstack, pg_temp');
-- Tables: the application roles read them; only kv's keys and locks may readwrite
-- change directly (for speed); readonly changes nothing.
SELECT results_eq($$SELECT c.relname::text COLLATE "default" FROM pg_class c
                     WHERE c.relnamespace = 'pgstack'::regnamespace AND c.relkind IN ('r', 'p', 'm')
                       AND has_table_privilege('readwrite', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
                     ORDER BY 1$$,
                  ARRAY['kv_entries', 'kv_locks'], 'readwrite writes no pgstack table but kv_entries and kv_locks');
SELECT is_empty($$SELECT c.oid::regclass FROM pg_class c
                   WHERE c.relnamespace = 'pgstack'::regnamespace AND c.relkind IN ('r', 'p', 'm')
                     AND has_table_privilege('readonly', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')$$,
                'readonly writes no pgstack table');
SELECT is_empty($$SELECT c.oid::regclass FROM pg_class c
                   WHERE c.relnamespace = 'pgstack'::regnamespace
                     AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('readwrite', c.oid, 'UPDATE') END$$,
                'readwrite cannot move any pgstack sequence');

-- ---- the migration ledger --------------------------------------------------------
-- pgstack.schema_migrations records every applied file; the application roles read it.
-- record_migration lets `pgstack migrate up` (as the migrations role) record the
-- application's own files, inserting only, and refuses pgstack's module names.
SELECT has_function('pgstack', 'record_migration', '{text,integer,text,text,integer}');
SELECT function_privs_are('pgstack', 'record_migration', '{text,integer,text,text,integer}'::name[], 'readwrite', '{EXECUTE}'::name[]);
SELECT function_privs_are('pgstack', 'record_migration', '{text,integer,text,text,integer}'::name[], 'readonly', '{}'::name[]);
SELECT table_privs_are('pgstack', 'schema_migrations', 'readwrite', '{SELECT}'::name[]);
SELECT set_eq($$SELECT DISTINCT module FROM pgstack.schema_migrations$$,
              ARRAY['core', 'jobs', 'kv', 'sessions', 'ratelimit', 'flags', 'pubsub', 'docs'], 'every module is recorded as applied');
SELECT set_eq($$SELECT name FROM pgstack.builtin_modules$$, $$SELECT DISTINCT module FROM pgstack.schema_migrations$$,
              'pgstack.builtin_modules names them');
SELECT lives_ok($$SELECT pgstack.record_migration('app', 1, '001_orders.sql', 'abc123', 12)$$,
                'record_migration records an application migration');
SELECT results_eq($$SELECT module, version, name, checksum, execution_ms, applied_by FROM pgstack.schema_migrations WHERE module = 'app'$$,
                  $$VALUES ('app', 1, '001_orders.sql', 'abc123', 12, 'app')$$, '... with the login role that applied it');
SELECT throws_ok($$SELECT pgstack.record_migration('app', 1, '001_orders.sql', 'def456', 12)$$, '23505', NULL,
                 '... once: an applied migration is never rewritten this way');
SELECT throws_ok($$SELECT pgstack.record_migration('kv', 99, '099_fake.sql', 'abc', 1)$$, '42501',
                 'module kv is one of pgstack''s own; its migrations are recorded by pgstack install only');
SELECT throws_ok($$DELETE FROM pgstack.schema_migrations WHERE module = 'app'$$, '42501',
                 'permission denied for table schema_migrations', 'app cannot forget an applied migration');

-- ---- housekeeping: pgstack.maintain() --------------------------------------------
-- The workloads' tasks, as docs/maintenance.md lists them.
SELECT results_eq($$SELECT name, every FROM pgstack.maintenance_tasks ORDER BY name$$,
                  $$VALUES ('cache_refresh_views', interval '1 second'), ('jobs_maintain', interval '1 second'),
                           ('kv_sweep', interval '1 second'), ('lease_sweep', interval '1 minute'),
                           ('pubsub_prune', interval '1 minute'),
                           ('rate_limit_sweep', interval '10 seconds'), ('session_sweep', interval '1 minute')$$,
                  'the registered maintenance tasks and their intervals');
SELECT has_function('pgstack', 'maintain', '{integer}');
SELECT function_returns('pgstack', 'maintain', '{integer}'::name[], 'setof record');
SELECT function_privs_are('pgstack', 'maintain', '{integer}'::name[], 'readwrite', '{EXECUTE}'::name[]);
SELECT function_privs_are('pgstack', 'maintain', '{integer}'::name[], 'readonly', '{}'::name[]);
SELECT is(pg_get_function_identity_arguments('pgstack.maintain(integer)'::regprocedure), 'max_tasks integer',
          'maintain(max_tasks)');
-- Due tasks run (all are due in a fresh database), each in a subtransaction, at most
-- max_tasks of them; each records when it ran and then waits for its interval.
SELECT is((SELECT count(*) FROM pgstack.maintain(1)), 1::bigint, 'maintain(1) runs one due task');
SELECT is_empty($$SELECT * FROM pgstack.maintain() WHERE error IS NOT NULL$$, 'maintain() runs the others without an error');
SELECT is_empty($$SELECT name FROM pgstack.maintenance_tasks WHERE last_run_at IS NULL OR last_error IS NOT NULL$$,
                '... each task has run, and recorded no error');
SELECT ok((SELECT next_run_at > now() + interval '59 seconds' FROM pgstack.maintenance_tasks WHERE name = 'session_sweep'),
          '... and is due again after its interval');
SELECT is_empty($$SELECT * FROM pgstack.maintain() WHERE task IN ('session_sweep', 'pubsub_prune')$$,
                'a task that is not due does not run');
SELECT throws_ok($$SELECT * FROM pgstack.maintain(0)$$, '22023', 'maintain: max_tasks 0 is not a positive number');
SELECT throws_ok($$SELECT * FROM pgstack.maintain(NULL)$$, '22023', 'maintain: max_tasks NULL is not a positive number');
-- Only the schema's owner registers tasks (they run with its rights): app cannot, and
-- cannot change the registry by hand.
SELECT function_privs_are('pgstack', 'register_maintenance_task', '{text,regprocedure,interval}'::name[], 'readwrite', '{}'::name[]);
SELECT throws_ok($$SELECT pgstack.register_maintenance_task('mine', 'pgstack.kv_sweep()', interval '1 second')$$, '42501',
                 'permission denied for function register_maintenance_task');
SELECT throws_ok($$UPDATE pgstack.maintenance_tasks SET every = interval '1 day'$$, '42501',
                 'permission denied for table maintenance_tasks');

SELECT * FROM finish();
ROLLBACK;

-- Who may do what in schema pgstack (docs/stack.md#security). pgstack's tables are its
-- records (the migration ledger, queues, audit trails): application roles read them and
-- change them only through the functions meant for it. Every function pins its
-- search_path to schemas only their owner can write, with pg_temp last, so no object a
-- caller creates (in public, or a temporary one) is ever found in place of ours; one
-- that runs as the owner (SECURITY DEFINER) does so only where a role must do what it
-- otherwise cannot, and EXECUTE is granted only to the roles that need it, never PUBLIC.
--
-- The roles: readwrite (the application; `app` and `migrations` log in as members) and
-- readonly (`app_reader`). pgstack up makes them with the login roles; installing into
-- another database makes the two group roles when they are missing.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'readwrite') THEN
    CREATE ROLE readwrite NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'readonly') THEN
    CREATE ROLE readonly NOLOGIN;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE EXCEPTION 'pgstack needs the group roles readwrite and readonly, and % may not create them', current_user
    USING ERRCODE = '42501',
          HINT = 'Create them as a role with CREATEROLE (CREATE ROLE readwrite NOLOGIN; CREATE ROLE readonly NOLOGIN;), then install again.';
END
$$;

-- Nothing in the schema for anyone unless granted below or by a module's own migration.
REVOKE ALL ON SCHEMA pgstack FROM PUBLIC;
GRANT USAGE ON SCHEMA pgstack TO readwrite, readonly;
-- Stacks made before this migration gave readwrite write access to every pgstack table
-- and EXECUTE on every function by default; new objects get nothing by default now.
ALTER DEFAULT PRIVILEGES IN SCHEMA pgstack REVOKE ALL ON TABLES FROM readwrite, readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgstack REVOKE ALL ON SEQUENCES FROM readwrite, readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgstack REVOKE ALL ON FUNCTIONS FROM readwrite, readonly;

REVOKE ALL ON pgstack.schema_migrations, pgstack.maintenance_tasks FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.schema_migrations, pgstack.maintenance_tasks TO readwrite, readonly;

-- pgstack's own module names: only the owner records migrations of these (see
-- record_migration). The migration runner adds its binary's modules at every install.
CREATE TABLE pgstack.builtin_modules (
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgstack.builtin_modules IS 'pgstack: the module names of pgstack itself, which only the owner may record';
REVOKE ALL ON pgstack.builtin_modules FROM PUBLIC;
GRANT SELECT ON pgstack.builtin_modules TO readwrite, readonly;

-- Records an application migration for a role that may not write the ledger (the
-- `migrations` role running `pgstack migrate up`). Inserts only: an applied migration
-- is never rewritten or forgotten this way, and pgstack's own modules are refused, so
-- no application role can mark a pgstack migration applied that is not.
CREATE FUNCTION pgstack.record_migration(module text, version integer, name text, checksum text, execution_ms integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pgstack.builtin_modules b WHERE b.name = record_migration.module) THEN
    RAISE EXCEPTION 'module % is one of pgstack''s own; its migrations are recorded by pgstack install only', module
      USING ERRCODE = '42501', HINT = 'Name your migrations module differently (the CLI uses "app").';
  END IF;
  INSERT INTO pgstack.schema_migrations (module, version, name, checksum, execution_ms, applied_by)
  VALUES (record_migration.module, record_migration.version, record_migration.name, record_migration.checksum,
          record_migration.execution_ms, session_user);
END
$$;
REVOKE ALL ON FUNCTION pgstack.record_migration(text, integer, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.record_migration(text, integer, text, text, integer) TO readwrite;

-- The housekeeping registry and runner take bare parameter names, as the whole SQL API
-- now does; maintain() runs each task by its schema-qualified name.
DROP FUNCTION pgstack.register_maintenance_task(text, regprocedure, interval);
CREATE FUNCTION pgstack.register_maintenance_task(name text, function regprocedure, every interval)
RETURNS void LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  INSERT INTO pgstack.maintenance_tasks (name, function, every)
  VALUES (register_maintenance_task.name, register_maintenance_task.function, register_maintenance_task.every)
  ON CONFLICT ON CONSTRAINT maintenance_tasks_pkey DO UPDATE SET function = excluded.function, every = excluded.every;
$$;
REVOKE ALL ON FUNCTION pgstack.register_maintenance_task(text, regprocedure, interval) FROM PUBLIC;

-- Runs up to max_tasks due tasks, each in a subtransaction (see 002_maintenance.sql).
-- SECURITY DEFINER: the tasks sweep tables only the owner may write, and only the
-- owner registers them.
DROP FUNCTION pgstack.maintain(integer);
CREATE FUNCTION pgstack.maintain(max_tasks integer DEFAULT 100)
RETURNS TABLE (task text, result bigint, error text, duration interval)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
DECLARE
  v_task record;
  v_started timestamptz;
  v_result bigint;
  v_error text;
BEGIN
  IF max_tasks IS NULL OR max_tasks < 1 THEN
    RAISE EXCEPTION 'maintain: max_tasks % is not a positive number', coalesce(max_tasks::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  FOR v_task IN
    SELECT t.name, t.function::oid AS fn_oid, n.nspname AS fn_schema, p.proname AS fn_name, t.every
      FROM pgstack.maintenance_tasks t
      LEFT JOIN pg_catalog.pg_proc p ON p.oid = t.function
      LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE t.next_run_at <= clock_timestamp()
     ORDER BY t.next_run_at
     LIMIT max_tasks
     FOR UPDATE OF t SKIP LOCKED
  LOOP
    v_started := clock_timestamp();
    v_result := NULL;
    v_error := NULL;
    IF v_task.fn_name IS NULL THEN
      v_error := format('the task''s function (oid %s) no longer exists; register the task again', v_task.fn_oid);
    ELSE
      BEGIN
        -- Tasks take no argument; the call names the schema, never relying on the path.
        EXECUTE format('SELECT %I.%I()', v_task.fn_schema, v_task.fn_name) INTO v_result;
      EXCEPTION WHEN OTHERS THEN
        v_error := SQLERRM;
      END;
    END IF;
    UPDATE pgstack.maintenance_tasks t
       SET next_run_at = clock_timestamp() + t.every, last_run_at = v_started,
           last_duration = clock_timestamp() - v_started, last_result = v_result, last_error = v_error
     WHERE t.name = v_task.name;
    task := v_task.name;
    result := v_result;
    error := v_error;
    duration := clock_timestamp() - v_started;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION pgstack.maintain(integer) IS 'pgstack: runs the due housekeeping tasks (docs/maintenance.md)';
REVOKE ALL ON FUNCTION pgstack.maintain(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.maintain(integer) TO readwrite;

ALTER FUNCTION pgstack.set_updated_at() SET search_path = pg_catalog, pgstack, pg_temp;
REVOKE ALL ON FUNCTION pgstack.set_updated_at() FROM PUBLIC;

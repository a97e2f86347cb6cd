-- Housekeeping the workloads need now and then: sweeping expired keys, sessions and
-- rate-limit entries, refreshing materialized views, dropping old messages. A workload
-- registers a task here from its own migration; pgstack.maintain() runs those that are
-- due. Something has to call it every second or so: a pgstack::schema::Housekeeper
-- thread in an application, `pgstack maintain` from cron, or pg_cron
-- (docs/maintenance.md). One registry means one thing to schedule, whatever the number
-- of workloads in use.
CREATE TABLE pgstack.maintenance_tasks (
  name text PRIMARY KEY,
  -- Takes no argument and returns bigint: how much work it did (rows swept, views
  -- refreshed), recorded in last_result.
  function regprocedure NOT NULL,
  every interval NOT NULL,
  next_run_at timestamptz NOT NULL DEFAULT now(),
  last_run_at timestamptz,
  last_duration interval,
  last_result bigint,
  last_error text,
  CONSTRAINT maintenance_task_every_positive CHECK (every > interval '0')
);
COMMENT ON TABLE pgstack.maintenance_tasks IS 'pgstack: periodic housekeeping of the workloads, run by pgstack.maintain()';

CREATE FUNCTION pgstack.register_maintenance_task(p_name text, p_function regprocedure, p_every interval)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO pgstack.maintenance_tasks (name, function, every) VALUES (p_name, p_function, p_every)
  ON CONFLICT (name) DO UPDATE SET function = excluded.function, every = excluded.every;
$$;

-- Runs up to p_max_tasks due tasks, each in a subtransaction: a failing task records
-- its error and is retried after its interval; the others still run. Rows are taken
-- FOR UPDATE SKIP LOCKED, so concurrent callers share the work instead of repeating
-- it. Called with 1 in a loop (as Housekeeper does), each task gets a transaction of
-- its own, so a long view refresh does not hold back a sweep.
-- SECURITY DEFINER: the tasks run as the owner of the schema (they sweep tables the
-- caller may not own), and so only the owner may register them: the registry is not
-- writable by the application roles (pgstack/cluster/roles.cc), and EXECUTE is not
-- granted to PUBLIC. A task sees search_path pg_catalog, pgstack, public (in
-- PostgreSQL 15 only the owner may create objects in public).
CREATE FUNCTION pgstack.maintain(p_max_tasks integer DEFAULT 100)
RETURNS TABLE (task text, result bigint, error text, duration interval)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack, public AS $$
DECLARE
  v_task record;
  v_started timestamptz;
  v_result bigint;
  v_error text;
BEGIN
  FOR v_task IN
    SELECT t.name, t.function, t.every FROM pgstack.maintenance_tasks t
    WHERE t.next_run_at <= clock_timestamp()
    ORDER BY t.next_run_at
    LIMIT p_max_tasks
    FOR UPDATE SKIP LOCKED
  LOOP
    v_started := clock_timestamp();
    v_result := NULL;
    v_error := NULL;
    BEGIN
      -- regprocedure's text form is the quoted, schema-qualified call: pgstack.kv_sweep()
      EXECUTE format('SELECT %s', v_task.function::text) INTO v_result;
    EXCEPTION WHEN OTHERS THEN
      v_error := SQLERRM;
    END;
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
REVOKE EXECUTE ON FUNCTION pgstack.maintain(integer) FROM PUBLIC;
COMMENT ON FUNCTION pgstack.maintain(integer) IS 'pgstack: runs the due housekeeping tasks (docs/maintenance.md)';

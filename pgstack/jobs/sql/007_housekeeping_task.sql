-- Job housekeeping as one of pgstack's maintenance tasks, so that it runs with no worker
-- process at all: pgstack.maintain() (scheduled by pg_cron at `pgstack up`/`install`,
-- or `pgstack maintain`, or a Housekeeper) rescues the batches of a worker that died —
-- in any language — once their lease runs out. Workers still call jobs_maintain()
-- themselves about once a second; its advisory lock makes the extra caller harmless.
CREATE FUNCTION pgstack.jobs_maintenance_task() RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  -- NULL from jobs_maintain: another runner holds its lock, so there was nothing to do here.
  SELECT coalesce((r->>'rescued')::bigint + (r->>'promoted')::bigint + (r->>'history_deleted')::bigint, 0)
    FROM (SELECT pgstack.jobs_maintain() AS r) AS run
$$;
COMMENT ON FUNCTION pgstack.jobs_maintenance_task() IS
  'pgstack: jobs_maintain() as a maintenance task (jobs rescued + promoted + history rows deleted)';
-- Only maintain() (running as the owner) calls it.
REVOKE ALL ON FUNCTION pgstack.jobs_maintenance_task() FROM PUBLIC;
SELECT pgstack.register_maintenance_task('jobs_maintain', 'pgstack.jobs_maintenance_task()', interval '1 second');

-- The periodic-job scheduler's leadership on the core lease (schema/sql/005_lease.sql)
-- instead of a table of its own: one primitive, one set of tests, and scheduled tasks
-- and HA take leases the same way. Lease names are 'jobs:<name>', so no other module's
-- lease can be mistaken for a job leader.

-- A leader in office keeps its lease across the upgrade (a worker of the previous
-- version renews through this same function once it is replaced below).
INSERT INTO pgstack.leases (name, holder, acquired_at, expires_at)
SELECT 'jobs:' || l.name, l.holder, pg_catalog.clock_timestamp(), l.expires_at
  FROM pgstack.job_leaders l
 WHERE l.expires_at > pg_catalog.clock_timestamp() AND octet_length(l.holder) BETWEEN 1 AND 1024
ON CONFLICT ON CONSTRAINT leases_pkey DO NOTHING;

-- Same signature, grants and result as before: true when holder holds the lease named
-- name for the next seconds, having renewed it or taken it over after it ran out. It
-- runs as the caller now: lease_acquire is the part that must run as the owner.
-- Bad input (seconds <= 0, an empty name) is now an error (22023) instead of a lease
-- that had already run out.
CREATE OR REPLACE FUNCTION pgstack.try_job_leader(name text, holder text, seconds double precision) RETURNS boolean
LANGUAGE sql SECURITY INVOKER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pgstack.lease_acquire('jobs:' || try_job_leader.name, try_job_leader.holder,
                               pg_catalog.make_interval(secs => try_job_leader.seconds))
$$;

-- Nothing reads job_leaders any more (doctor, metrics and jobs_health never did).
DROP TABLE pgstack.job_leaders;

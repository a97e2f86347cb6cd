-- The reading functions that call the queue's internal helpers (job_latest,
-- job_queue_must_exist, job_batch_rows, job_batch_unfinished) and the core's
-- formatting helpers run as the owner, so that the helpers need not be executable by
-- any application role. All but job_queue_watch are read-only (STABLE); none builds SQL
-- from its arguments or depends on who calls it.
ALTER FUNCTION pgstack.job(bigint) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_state(bigint) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_list(text, text, integer) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_queue_watch(text) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.jobs_health(jsonb) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.jobs_advice(jsonb, jsonb, double precision) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

REVOKE EXECUTE ON FUNCTION pgstack.job_latest(bigint[]) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.job_queue_must_exist(text) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.job_batch_rows(pgstack.job_batches) FROM readwrite, readonly;
REVOKE EXECUTE ON FUNCTION pgstack.job_batch_unfinished(pgstack.job_batches) FROM readwrite, readonly;

-- The job queue's part of the capability contract (pgstack/schema/sql/004): its health
-- checks, its Prometheus samples and advise's figures, for doctor, metrics and advise
-- and for any tool: SELECT * FROM pgstack.jobs_health('{"job_oldest_available_seconds": 60}');

-- job_backlog: a queue's oldest available job waits longer than the threshold.
-- discarded_jobs: more jobs than the threshold discarded in the past hour.
-- job_lease_expired: claimed batches two minutes past their lease, which housekeeping
--   (pgstack.maintain(), every minute) would have rescued: nothing is rescuing them.
-- The defaults are those of pgstack/jobs/capability.cc.
CREATE FUNCTION pgstack.jobs_health(thresholds jsonb DEFAULT '{}')
RETURNS TABLE (check_name text, severity text, subject text, what text, why text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH t AS (
    SELECT coalesce((thresholds ->> 'job_oldest_available_seconds')::float8, 300) AS oldest_seconds,
           coalesce((thresholds ->> 'discarded_jobs_per_hour')::float8::bigint, 10) AS discarded_per_hour
  )
  SELECT c, 'ok', NULL, NULL, NULL, NULL FROM unnest(ARRAY['job_backlog', 'discarded_jobs', 'job_lease_expired']) c
  UNION ALL
  (SELECT 'job_backlog', 'warning', 'queue ' || s.queue,
          format('its oldest available job has waited %s (%s jobs available); threshold %s',
                 pgstack.seconds_text(extract(epoch FROM now() - s.oldest_available_at)::float8), s.available,
                 pgstack.seconds_text(t.oldest_seconds)),
          'jobs run that much later than enqueued: the workers are down, paused, or too few for the rate',
          format('pgstack jobs stats; start workers for queue %s, add concurrency, or pgstack jobs resume %s if paused',
                 s.queue, s.queue)
   FROM pgstack.job_queue_stats() s, t
   WHERE now() - s.oldest_available_at > make_interval(secs => t.oldest_seconds)
   ORDER BY s.queue)
  UNION ALL
  (SELECT 'discarded_jobs', 'warning', 'queue ' || h.queue,
          format('%s jobs were discarded after their last attempt in the past hour; threshold %s', count(*),
                 min(t.discarded_per_hour)),
          'each is work that did not happen: an email unsent, a payment not captured',
          format('pgstack jobs list --queue %s --state discarded (their errors say why), fix, then pgstack jobs retry ID',
                 h.queue)
   FROM pgstack.job_history h, t
   WHERE h.state = 'discarded' AND h.finished_at > now() - interval '1 hour'
   GROUP BY h.queue HAVING count(*) > min(t.discarded_per_hour)
   ORDER BY count(*) DESC)
  UNION ALL
  (SELECT 'job_lease_expired', 'critical', 'queue ' || b.queue,
          format('%s claimed batch(es) holding %s job(s) are %s past their lease', count(*), sum(b.job_count),
                 pgstack.seconds_text(extract(epoch FROM now() - min(b.lease_expires_at))::float8)),
          'their worker is gone and nothing offers the jobs again: they stay ''running'' and never finish',
          'pgstack maintain (rescues them now); keep housekeeping scheduled: pgstack install schedules '
          'pgstack.maintain() with pg_cron (docs/maintenance.md)'
   FROM pgstack.job_batches b
   WHERE b.lease_expires_at < now() - interval '120 seconds'
   GROUP BY b.queue
   ORDER BY min(b.lease_expires_at))
$$;

-- Per queue: jobs by state, the finished totals (rate() of them is the throughput), the
-- pause flag and how far behind the workers are.
CREATE FUNCTION pgstack.jobs_metrics()
RETURNS TABLE (family text, type text, help text, labels jsonb, value double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH s AS (SELECT * FROM pgstack.job_queue_stats())
  SELECT 'pgstack_jobs', 'gauge', 'Jobs per queue and state now.',
         jsonb_build_object('queue', s.queue, 'state', n.state), n.jobs::float8
  FROM s CROSS JOIN LATERAL (VALUES ('scheduled', s.scheduled), ('retryable', s.retryable),
                                    ('available', s.available), ('running', s.running)) n(state, jobs)
  UNION ALL
  SELECT n.family, 'counter', n.help, jsonb_build_object('queue', s.queue), n.jobs::float8
  FROM s CROSS JOIN LATERAL (VALUES
    ('pgstack_jobs_completed_total', 'Jobs completed (rate() is the throughput).', s.completed),
    ('pgstack_jobs_failed_total', 'Attempts that failed and were retried.', s.failed),
    ('pgstack_jobs_discarded_total', 'Jobs discarded after their last attempt, kept in history by retention.',
     s.discarded),
    ('pgstack_jobs_cancelled_total', 'Jobs cancelled, kept in history by retention.', s.cancelled),
    ('pgstack_jobs_rescued_total', 'Jobs offered again after their worker stopped heartbeating.', s.rescued)
  ) n(family, help, jobs)
  UNION ALL
  SELECT 'pgstack_jobs_paused', 'gauge', '1 when the queue is paused.', jsonb_build_object('queue', s.queue),
         s.paused::int::float8
  FROM s
  UNION ALL
  SELECT 'pgstack_jobs_oldest_available_age_seconds', 'gauge',
         'Age of the oldest job waiting to run (0 when none waits): how far behind the workers are.',
         jsonb_build_object('queue', s.queue), coalesce(extract(epoch FROM now() - s.oldest_available_at), 0)::float8
  FROM s
$$;

-- advise's counters: jobs completed so far, every queue.
CREATE FUNCTION pgstack.jobs_usage()
RETURNS jsonb LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT jsonb_build_object('completed', coalesce(sum(completed), 0)) FROM pgstack.job_queue_stats() $$;

-- Whether the job queue's load justifies a message broker, or more workers.
CREATE FUNCTION pgstack.jobs_advice(before jsonb, after jsonb, seconds double precision)
RETURNS SETOF pgstack.advice_evidence
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH m AS (
    SELECT ((after ->> 'completed')::float8 - (before ->> 'completed')::float8) / greatest(seconds, 0.001) AS rate,
           coalesce(sum(s.available), 0)::float8 AS backlog,
           coalesce(max(extract(epoch FROM now() - s.oldest_available_at)), 0)::float8 AS oldest
    FROM pgstack.job_queue_stats() s
  )
  SELECT e.* FROM m, LATERAL pgstack.advice_verdict(
    'jobs', 'jobs completed per second', m.rate,
    format('%s jobs/s over %s; %s available, the oldest waiting %s', to_char(m.rate, 'FM999999990.0'),
           pgstack.seconds_text(seconds), m.backlog, pgstack.seconds_text(m.oldest)),
    10000, '10000 jobs/s sustained', 'a message broker (RabbitMQ, Kafka)',
    'Postgres is enough for the job queue',
    'sustained past the point where the queue''s writes and vacuum compete with the application''s: measure a week '
    'of it, then consider a broker for the highest-volume queue') e
  UNION ALL
  SELECT e.* FROM m, LATERAL pgstack.advice_verdict(
    'jobs', 'age of the oldest available job, seconds', m.oldest,
    format('%s (%s jobs available)', pgstack.seconds_text(m.oldest), m.backlog),
    300, pgstack.seconds_text(300), 'more workers (another system would not help)',
    'workers keep up with the queue',
    'the workers are behind: add workers or concurrency first; a broker would not make them faster') e
$$;

REVOKE ALL ON FUNCTION pgstack.jobs_health(jsonb), pgstack.jobs_metrics(), pgstack.jobs_usage(),
  pgstack.jobs_advice(jsonb, jsonb, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.jobs_health(jsonb), pgstack.jobs_metrics(), pgstack.jobs_usage(),
  pgstack.jobs_advice(jsonb, jsonb, double precision) TO readwrite, readonly;

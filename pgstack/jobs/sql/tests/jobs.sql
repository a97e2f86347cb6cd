-- The jobs module's SQL API (docs/jobs.md), pinned in SQL: enqueueing, managing jobs and
-- queues, and the protocol a worker in any language follows (claim, heartbeat,
-- complete, checkpoint, release, watch).
-- Run as the stack's application role `app` (a member of readwrite). How to run it:
-- docs/testing.md, "SQL-level tests (pgTAP)".

-- A claim hands out only jobs whose transactions have ended (jobs run in commit order),
-- so the worker tests need committed jobs: this transaction makes a queue of this run's
-- own with four jobs and commits. The last transaction of the file runs them, so nothing
-- is left waiting (on a stack, the queue and the kind stay: both are cheap rows).
-- psql's \gset keeps the queue's name and the jobs' ids.
BEGIN;
SELECT 'pgtap_' || pg_current_xact_id() AS queue \gset
SELECT pgstack.job_queue_create(:'queue');
SELECT pgstack.job_kind_register('pgtap.echo');
SELECT j[1] AS j1, j[2] AS j2, j[3] AS j3, j[4] AS j4
  FROM (SELECT array_agg(id ORDER BY id) AS j
          FROM pgstack.job_enqueue_many(array_fill('pgtap.echo'::text, ARRAY[4]),
                                    ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}', '{"n": 4}']::jsonb[],
                                    queues => array_fill(:'queue'::text, ARRAY[4]))) e \gset
COMMIT;

-- Everything else happens in one transaction that is rolled back.
BEGIN;
SELECT plan(237);

-- ---- the API: what exists, and who may call it ------------------------------------
CREATE TEMP TABLE api (fn name, args name[], reads boolean);
INSERT INTO api VALUES
  ('job_enqueue', '{text,jsonb,text,integer,timestamptz,integer,text,text[],text}', false),
  ('job_enqueue_many', '{text[],jsonb[],text[],integer[],timestamptz[],integer[],text[],text[],text}', false),
  ('job_kind_register', '{text,text,integer,integer}', false),
  ('job_queue_create', '{text,integer}', false),
  ('job', '{bigint}', true),
  ('job_state', '{bigint}', true),
  ('job_list', '{text,text,integer}', true),
  ('job_cancel', '{bigint}', false),
  ('job_retry', '{bigint}', false),
  ('job_queue_pause', '{text}', false),
  ('job_queue_resume', '{text}', false),
  ('job_queue_set_limit', '{text,integer}', false),
  ('job_queue_stats', '{}', true),
  ('job_claim', '{text,text,integer,double precision,uuid}', false),
  ('job_batch_heartbeat', '{text,bigint[],double precision}', false),
  ('job_batch_complete', '{bigint,text,jsonb}', false),
  ('job_batch_checkpoint', '{bigint,text,bigint[],jsonb,double precision}', false),
  ('job_batch_release', '{bigint,text,bigint[],jsonb}', false),
  ('job_batch_status', '{bigint,text}', true),
  ('job_queue_watch', '{text}', false),
  ('job_queue_unwatch', '{text}', false),
  ('job_watch_key', '{text}', true),
  ('jobs_maintain', '{}', false),
  ('job_enqueue_periodic', '{text,text,timestamptz,text,jsonb,text}', false),
  ('try_job_leader', '{text,text,double precision}', false),
  -- the capability contract (docs/architecture.md): doctor, metrics and advise call them
  ('jobs_health', '{jsonb}', true),
  ('jobs_metrics', '{}', true),
  ('jobs_usage', '{}', true),
  ('jobs_advice', '{jsonb,jsonb,"double precision"}', true);

-- The names before 009_names.sql: deprecated wrappers of the new ones for one release,
-- with the same signature and the same grants.
CREATE TEMP TABLE deprecated (fn name, args name[], replacement name);
INSERT INTO deprecated VALUES
  ('enqueue', '{text,jsonb,text,integer,timestamptz,integer,text,text[],text}', 'job_enqueue'),
  ('enqueue_many', '{text[],jsonb[],text[],integer[],timestamptz[],integer[],text[],text[],text}', 'job_enqueue_many'),
  ('enqueue_periodic', '{text,text,timestamptz,text,jsonb,text}', 'job_enqueue_periodic'),
  ('register_job_kind', '{text,text,integer,integer}', 'job_kind_register'),
  ('create_job_queue', '{text,integer}', 'job_queue_create'),
  ('list_jobs', '{text,text,integer}', 'job_list'),
  ('cancel_job', '{bigint}', 'job_cancel'),
  ('retry_job', '{bigint}', 'job_retry'),
  ('pause_job_queue', '{text}', 'job_queue_pause'),
  ('resume_job_queue', '{text}', 'job_queue_resume'),
  ('set_job_queue_limit', '{text,integer}', 'job_queue_set_limit'),
  ('claim_jobs', '{text,text,integer,double precision,uuid}', 'job_claim'),
  ('heartbeat_batches', '{text,bigint[],double precision}', 'job_batch_heartbeat'),
  ('complete_batch', '{bigint,text,jsonb}', 'job_batch_complete'),
  ('checkpoint_batch', '{bigint,text,bigint[],jsonb,double precision}', 'job_batch_checkpoint'),
  ('release_batch', '{bigint,text,bigint[],jsonb}', 'job_batch_release'),
  ('watch_job_queue', '{text}', 'job_queue_watch'),
  ('unwatch_job_queue', '{text}', 'job_queue_unwatch');
-- readwrite may call every function of the API; readonly only the reads; PUBLIC none;
-- and no other jobs function (the deprecated names count as API), an internal helper,
-- is executable by readwrite or readonly (pgstack/schema/testing/api_privileges.sql).
SELECT * FROM pgstack_tap.api_privileges('jobs', '^(job|enqueue|list_jobs|claim_|complete_|checkpoint_|release_|heartbeat_|register_job|create_job|cancel_job|retry_job|pause_job|resume_job|set_job|watch_job|unwatch_job|try_job_leader)');
SELECT has_function('pgstack', fn, args, format('deprecated pgstack.%s(%s) still exists', fn, array_to_string(args, ', ')))
  FROM deprecated ORDER BY fn;
SELECT is_empty($$
  SELECT d.fn FROM deprecated d,
         LATERAL (SELECT format('pgstack.%s(%s)', d.fn, array_to_string(d.args, ','))::regprocedure AS old,
                         format('pgstack.%s(%s)', d.replacement, array_to_string(d.args, ','))::regprocedure AS new) f,
         unnest(ARRAY['readwrite', 'readonly', 'public']) AS r(role)
   WHERE has_function_privilege(r.role, f.old, 'EXECUTE') IS DISTINCT FROM has_function_privilege(r.role, f.new, 'EXECUTE') $$,
  'each deprecated name is granted exactly as its replacement');
SELECT is_empty($$
  SELECT d.fn FROM deprecated d
   WHERE obj_description(format('pgstack.%s(%s)', d.fn, array_to_string(d.args, ','))::regprocedure, 'pg_proc')
         IS DISTINCT FROM format('deprecated: use pgstack.%s; removed in 0.2', d.replacement) $$,
  'each deprecated name says so, and names its replacement');
-- (The helpers that write the queue's tables as the owner, job_reoffer,
-- job_record_outcomes and the like, are internal: they would let the application
-- re-offer or rewrite any job. The check above finds them executable by no app role.)
-- The tables: read by the application roles, written only through the functions.
SELECT is_empty($$SELECT c.oid::regclass FROM pg_class c
                   WHERE c.relnamespace = 'pgstack'::regnamespace AND c.relname ~ '^job' AND c.relkind IN ('r', 'p')
                     AND has_table_privilege('readwrite', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')$$,
                'readwrite writes no jobs table directly');
SELECT throws_ok($$DELETE FROM pgstack.job_history$$, '42501', 'permission denied for table job_history',
                 'app cannot erase the job history by hand');

-- ---- queues and kinds ------------------------------------------------------------
-- Kinds are registered (a misspelt kind is an error, not a job that waits forever) with
-- defaults: queue `default`, max_attempts 25, priority 0. Queues exist before jobs go in.
SELECT lives_ok($$SELECT pgstack.job_queue_create('reports')$$, 'job_queue_create');
SELECT lives_ok($$SELECT pgstack.job_queue_create('reports')$$, '... again is a no-op');
SELECT lives_ok($$SELECT pgstack.job_kind_register('report', queue => 'reports')$$, 'job_kind_register with a queue');
SELECT lives_ok($$SELECT pgstack.job_kind_register('email')$$, 'job_kind_register with the defaults');
SELECT results_eq($$SELECT kind, queue, max_attempts, priority FROM pgstack.job_kinds WHERE kind IN ('email', 'report') ORDER BY kind$$,
                  $$VALUES ('email', 'default', 25, 0::smallint), ('report', 'reports', 25, 0::smallint)$$,
                  'a kind''s defaults: queue default, max_attempts 25, priority 0');
SELECT lives_ok($$SELECT pgstack.job_kind_register('email', priority => 3)$$, 'registering again changes what is given');
SELECT results_eq($$SELECT queue, max_attempts, priority FROM pgstack.job_kinds WHERE kind = 'email'$$,
                  $$VALUES ('default', 25, 3::smallint)$$, '... and keeps the rest (NULL keeps what is there)');
SELECT throws_ok($$SELECT pgstack.job_queue_create('Reports!')$$, '22023', 'invalid job queue name ''Reports!''');
SELECT throws_ok($$SELECT pgstack.job_queue_create('slow', 0)$$, '22023', 'invalid concurrency limit 0 for job queue slow');
SELECT throws_ok($$SELECT pgstack.job_kind_register('bad kind')$$, '22023', 'invalid job kind ''bad kind''');
SELECT throws_ok($$SELECT pgstack.job_kind_register('k', queue => 'nope')$$, '42704', 'unknown job queue ''nope''');
SELECT throws_ok($$SELECT pgstack.job_kind_register('k', max_attempts => 1001)$$, '22023', 'invalid max_attempts 1001 for job kind k');
SELECT throws_ok($$SELECT pgstack.job_kind_register('k', priority => 10)$$, '22023', 'invalid priority 10 for job kind k');

-- ---- enqueueing ------------------------------------------------------------------
-- job_enqueue returns (id, duplicate); NULL takes the kind's default; run_at in the future
-- makes the job scheduled; a unique key is held by one job per queue at a time.
CREATE TEMP TABLE report AS
  SELECT * FROM pgstack.job_enqueue('report', '{"month": "2026-11"}', queue => 'reports', priority => 5,
                                run_at => now() + interval '1 hour', unique_key => 'report:2026-11', tags => '{monthly}');
SELECT is((SELECT duplicate FROM report), false, 'job_enqueue returns a new job''s id, not a duplicate');
SELECT results_eq($$SELECT j.state, j.queue, j.kind, j.args, j.priority, j.run_at, j.unique_key, j.tags, j.max_attempts
                      FROM report, pgstack.job(report.id) j$$,
                  $$VALUES ('scheduled', 'reports', 'report', '{"month": "2026-11"}'::jsonb, 5::smallint, now() + interval '1 hour',
                            'report:2026-11', '{monthly}'::text[], 25)$$,
                  'pgstack.job shows it, scheduled for run_at');
SELECT results_eq($$SELECT * FROM pgstack.job_enqueue('report', '{"month": "again"}', queue => 'reports', unique_key => 'report:2026-11')$$,
                  $$SELECT id, true FROM report$$, 'the same unique key returns the holder''s id, duplicate = true');
SELECT is((SELECT count(*) FROM pgstack.job_list('reports')), 1::bigint, '... and enqueues nothing');
CREATE TEMP TABLE email AS SELECT * FROM pgstack.job_enqueue('email', '{"to": "a@example.com"}');
SELECT results_eq($$SELECT j.state, j.queue, j.priority FROM email, pgstack.job(email.id) j$$,
                  $$VALUES ('available', 'default', 3::smallint)$$, 'without run_at a job is available, in its kind''s queue and priority');
SELECT results_eq($$SELECT duplicate FROM pgstack.job_enqueue_many(array['email', 'email', 'report'],
                        array['{"to": "b@example.com"}', '{"to": "c@example.com"}', '{}']::jsonb[],
                        queues => array[NULL, NULL, 'reports'], unique_keys => array[NULL, NULL, 'report:2026-11'])$$,
                  ARRAY[false, false, true], 'job_enqueue_many: a row per job, in input order');
SELECT ok((SELECT bool_and(id > (SELECT id FROM email)) FROM pgstack.job_enqueue_many(array['email'], array['{}']::jsonb[])),
          '... ids grow');
SELECT results_eq($$SELECT args->>'to' FROM pgstack.job_list('default', 'available') ORDER BY id DESC OFFSET 1$$,
                  $$VALUES ('c@example.com'), ('b@example.com'), ('a@example.com')$$,
                  'job_list: newest first, by queue and state');

-- Bad input raises before anything is written: 42704 unknown kind or queue, 22023 an
-- invalid value (priority 0-9, max_attempts 1-1000, unique key 1-512 characters, at
-- most 32 tags of up to 64 characters, args any JSON but null).
SELECT throws_ok($$SELECT pgstack.job_enqueue('send_recipt')$$, '42704', 'unknown job kind ''send_recipt'' (job 1 of 1)');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', queue => 'nope')$$, '42704', 'unknown job queue ''nope'' (job 1 of 1)');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', 'null')$$, '22023', 'job 1 of 1 (kind email) has no args');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', priority => 10)$$, '22023', 'invalid priority 10 (job 1 of 1)');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', max_attempts => 0)$$, '22023', 'invalid max_attempts 0 (job 1 of 1)');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', unique_key => '')$$, '22023', 'invalid unique key of 0 characters (job 1 of 1)');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', tags => array_fill('t'::text, ARRAY[33]))$$, '22023', NULL,
                 'more than 32 tags are refused');
SELECT throws_ok($$SELECT pgstack.job_enqueue('email', unique_while => 'sometimes')$$, '22023', 'invalid unique_while ''sometimes''');
SELECT throws_ok($$SELECT pgstack.job_enqueue_many(array['email', 'email'], array['{}']::jsonb[])$$, '22023',
                 'job_enqueue_many: the arrays differ in length (2 kinds, 1 args)');
SELECT throws_ok($$SELECT pgstack.job_enqueue_many(array['email', 'nope'], array['{}', '{}']::jsonb[])$$, '42704',
                 'unknown job kind ''nope'' (job 2 of 2)', 'job_enqueue_many names the bad element');
SELECT is((SELECT count(*) FROM pgstack.job_list('default')), 4::bigint, 'none of the refused calls enqueued anything');

-- ---- managing jobs ---------------------------------------------------------------
-- job_cancel: a scheduled job is cancelled at once, an available one marked (its worker
-- skips it); an ended job is 55000. job_retry: a scheduled job runs now, a cancelled
-- one gets one more attempt; an available one is 55000.
SELECT is(pgstack.job_cancel((SELECT id FROM report)), 'cancelled', 'job_cancel of a scheduled job: cancelled');
SELECT is(pgstack.job_state((SELECT id FROM report)), 'cancelled', '... job_state says so');
SELECT is(pgstack.job_state((SELECT id FROM report)), (SELECT state FROM pgstack.job((SELECT id FROM report))), '... and pgstack.job');
SELECT throws_ok(format('SELECT pgstack.job_cancel(%s)', (SELECT id FROM report)), '55000',
                 format('job %s has already ended (cancelled)', (SELECT id FROM report)), 'an ended job cannot be cancelled');
SELECT is(pgstack.job_retry((SELECT id FROM report)), 'available', 'job_retry gives a cancelled job one more attempt...');
SELECT throws_ok(format('SELECT pgstack.job_retry(%s)', (SELECT id FROM report)), '55000',
                 format('job %s is available and cannot be retried', (SELECT id FROM report)), 'an available job cannot be retried');
CREATE TEMP TABLE later AS SELECT * FROM pgstack.job_enqueue('email', run_at => now() + interval '1 day');
SELECT is(pgstack.job_retry((SELECT id FROM later)), 'available', 'job_retry runs a scheduled job now');
SELECT is(pgstack.job_state((SELECT id FROM later)), 'available', '... it is available');
CREATE TEMP TABLE digest AS SELECT * FROM pgstack.job_enqueue('email', run_at => now() + interval '1 day', unique_key => 'digest:alice');
SELECT is(pgstack.job_cancel((SELECT id FROM digest)), 'cancelled', 'a scheduled job with a unique key, cancelled');
SELECT is((SELECT duplicate FROM pgstack.job_enqueue('email', unique_key => 'digest:alice')), false,
          '... no longer holds its key: the next job with it is enqueued');
SELECT is(pgstack.job_cancel((SELECT id FROM email)), 'cancelling', 'job_cancel of an available job: cancelling');
SELECT is((SELECT cancel_requested FROM pgstack.job((SELECT id FROM email))), true, '... pgstack.job shows cancel_requested');
SELECT is(pgstack.job_state(999999999), NULL, 'job_state of a job that left no trace is NULL');
SELECT throws_ok($$SELECT pgstack.job_cancel(999999999)$$, '42704', 'no job 999999999');
SELECT throws_ok($$SELECT * FROM pgstack.job_list(state_name => 'bogus')$$, '22023', 'unknown job state ''bogus''');
SELECT throws_ok($$SELECT * FROM pgstack.job_list('nope')$$, '42704', 'unknown job queue ''nope''');
SELECT throws_ok($$SELECT * FROM pgstack.job_list(max_rows => 0)$$, '22023', 'invalid limit 0');

-- ---- working jobs: the protocol of a worker in any language ----------------------
-- A paused queue hands out nothing.
SELECT lives_ok(format('SELECT pgstack.job_queue_pause(%L)', :'queue'), 'job_queue_pause');
SELECT is((SELECT paused FROM pgstack.job_queue_stats() WHERE queue = :'queue'), true, '... job_queue_stats says paused');
SELECT is_empty(format('SELECT * FROM pgstack.job_claim(%L, %L)', :'queue', 'w1'), 'a paused queue hands out nothing');
SELECT lives_ok(format('SELECT pgstack.job_queue_resume(%L)', :'queue'), 'job_queue_resume');
SELECT throws_ok($$SELECT pgstack.job_queue_pause('nope')$$, '42704', 'unknown job queue ''nope''');

-- Watching: a worker with nothing to do watches the queue, so enqueues notify it.
SELECT is(pgstack.job_queue_watch(:'queue'), 'watching', 'job_queue_watch: this session watches now');
SELECT is(pgstack.job_queue_unwatch(:'queue'), true, 'job_queue_unwatch ends it');
-- (PostgreSQL adds a WARNING "you don't own a lock of type ExclusiveLock" here.)
SELECT is(pgstack.job_queue_unwatch(:'queue'), false, '... false when this session was not watching');
SELECT is(pgstack.job_watch_key(:'queue'), pgstack.job_watch_key(:'queue'), 'job_watch_key: the watch''s advisory lock key');

-- job_claim returns up to max_jobs jobs as one leased batch, in commit order; a queue
-- with a concurrency limit hands out no more than the limit across all workers.
SELECT lives_ok(format('SELECT pgstack.job_queue_set_limit(%L, 2)', :'queue'), 'job_queue_set_limit 2');
CREATE TEMP TABLE b1 AS SELECT * FROM pgstack.job_claim(:'queue', 'w1', 10, 30, '0e4fb1d2-55a0-4d0a-9e1c-6b7b0c1f2a01');
SELECT results_eq($$SELECT id, kind, args, cancelled FROM b1 ORDER BY id$$,
                  format('VALUES (%s::bigint, %L, %L::jsonb, false), (%s, %L, %L, false)', :j1, 'pgtap.echo', '{"n": 1}', :j2, 'pgtap.echo', '{"n": 2}'),
                  'job_claim with max_jobs 10 under a limit of 2: the two oldest jobs');
SELECT is((SELECT count(DISTINCT batch_id) FROM b1), 1::bigint, '... in one batch');
SELECT is_empty(format('SELECT * FROM pgstack.job_claim(%L, %L)', :'queue', 'w2'), '... and no more while they run');
SELECT lives_ok(format('SELECT pgstack.job_queue_set_limit(%L, NULL)', :'queue'), 'job_queue_set_limit NULL: no limit');
SELECT throws_ok(format('SELECT pgstack.job_queue_set_limit(%L, 0)', :'queue'), '22023', 'invalid concurrency limit 0');
CREATE TEMP TABLE b2 AS SELECT * FROM pgstack.job_claim(:'queue', 'w2', 10, 30);
SELECT results_eq($$SELECT id FROM b2 ORDER BY id$$, format('VALUES (%s::bigint), (%s)', :j3, :j4), 'then the rest go to another worker');
SELECT is(pgstack.job_state(:j1), 'running', 'a claimed job is running');
SELECT is((SELECT running FROM pgstack.job_queue_stats() WHERE queue = :'queue'), 4::bigint, '... job_queue_stats counts it');
SELECT is((SELECT count(*) FROM pgstack.job_list(:'queue', 'running')), 4::bigint, '... and job_list lists it');
-- A claim sent again with its token (its reply was lost) returns the batch it made.
SELECT results_eq($$SELECT batch_id, id FROM pgstack.job_claim((SELECT queue FROM b1 LIMIT 1), 'w1', 10, 30, '0e4fb1d2-55a0-4d0a-9e1c-6b7b0c1f2a01') ORDER BY id$$,
                  $$SELECT batch_id, id FROM b1 ORDER BY id$$, 'the same claim_token returns the same batch');
SELECT throws_ok(format('SELECT * FROM pgstack.job_claim(%L, %L, 10, 30, %L)', :'queue', 'w2', '0e4fb1d2-55a0-4d0a-9e1c-6b7b0c1f2a01'),
                 '22023', NULL, '... and only for the worker that made it');
SELECT throws_ok(format('SELECT * FROM pgstack.job_claim(%L, %L, 0)', :'queue', 'w1'), '22023', 'job_claim: invalid limit 0');
SELECT throws_ok(format('SELECT * FROM pgstack.job_claim(%L, %L, 10, 0)', :'queue', 'w1'), '22023', 'job_claim: invalid lease of 0 seconds');
SELECT throws_ok($$SELECT * FROM pgstack.job_claim('nope', 'w1')$$, '42704', 'unknown job queue ''nope''');

-- job_batch_heartbeat extends the leases and says, per batch, whether the worker still
-- holds it and which of its jobs were asked to cancel.
SELECT is(pgstack.job_cancel(:j2), 'cancelling', 'job_cancel of a running job: cancelling');
SELECT results_eq(format('SELECT batch_id, held, cancel_ids FROM pgstack.job_batch_heartbeat(%L, ARRAY[%s, %s]::bigint[], 30) ORDER BY held DESC',
                         'w1', (SELECT batch_id FROM b1 LIMIT 1), (SELECT batch_id FROM b2 LIMIT 1)),
                  format('VALUES (%s::bigint, true, ARRAY[%s]::bigint[]), (%s, false, %L)',
                         (SELECT batch_id FROM b1 LIMIT 1), :j2, (SELECT batch_id FROM b2 LIMIT 1), '{}'),
                  'job_batch_heartbeat: held, with the cancel request; another worker''s batch is not held');

-- job_batch_complete finishes a batch in one statement: jobs without an outcome succeeded.
-- Outcomes: retry (with its error kept; after delay_seconds), discard, cancel, snooze.
SELECT throws_ok(format('SELECT pgstack.job_batch_complete(%s, %L)', (SELECT batch_id FROM b1 LIMIT 1), 'w2'), '55000',
                 format('job batch %s is not held by worker ''w2''', (SELECT batch_id FROM b1 LIMIT 1)),
                 'a batch is completed only by the worker holding it');
SELECT throws_ok(format('SELECT pgstack.job_batch_complete(%s, %L, %L)', (SELECT batch_id FROM b1 LIMIT 1), 'w1', '[{"id": 1, "outcome": "explode"}]'),
                 '22023', 'invalid job outcome {"id": 1, "outcome": "explode"} (outcome is not retry, discard, cancel or snooze)');
SELECT lives_ok(format('SELECT pgstack.job_batch_complete(%s, %L, %L)', (SELECT batch_id FROM b1 LIMIT 1), 'w1',
                       jsonb_build_array(jsonb_build_object('id', :j1, 'outcome', 'retry', 'error', 'boom', 'delay_seconds', 60),
                                         jsonb_build_object('id', :j2, 'outcome', 'cancel'))),
                'job_batch_complete with a retry and a cancel');
SELECT is(pgstack.job_state(:j1), 'retryable', 'a retried job is retryable');
SELECT results_eq(format('SELECT attempt, run_at, errors->0->>%L, errors->0->>%L FROM pgstack.job(%s)', 'error', 'attempt', :j1),
                  format('VALUES (%s, now() + interval %L, %L, %L)', (SELECT attempt + 1 FROM b1 WHERE id = :j1), '60 seconds', 'boom',
                         (SELECT attempt FROM b1 WHERE id = :j1)),
                  '... its next attempt after delay_seconds, with the error of the last one');
SELECT is(pgstack.job_state(:j2), 'cancelled', 'a job completed with outcome cancel is cancelled');
SELECT is(pgstack.job_batch_status((SELECT batch_id FROM b1 LIMIT 1), 'w1'), 'finished',
          'job_batch_status after a completion: finished');
SELECT throws_ok(format('SELECT pgstack.job_batch_complete(%s, %L)', (SELECT batch_id FROM b1 LIMIT 1), 'w1'), '55000', NULL,
                 'a batch is completed once');

-- job_batch_checkpoint records progress (those jobs never run again); job_batch_release hands
-- the batch back, offering the rest again without counting an attempt.
SELECT is(pgstack.job_batch_status((SELECT batch_id FROM b2 LIMIT 1), 'w2'), 'held', 'job_batch_status of a held batch');
SELECT lives_ok(format('SELECT pgstack.job_batch_checkpoint(%s, %L, ARRAY[%s]::bigint[], %L, 30)', (SELECT batch_id FROM b2 LIMIT 1), 'w2', :j3, '[]'),
                'job_batch_checkpoint');
SELECT is(pgstack.job_state(:j3), 'completed', '... the checkpointed job is completed');
SELECT is(pgstack.job_batch_release((SELECT batch_id FROM b2 LIMIT 1), 'w2'), 1, 'job_batch_release offers the other one again');
SELECT is(pgstack.job_state(:j4), 'available', '... it is available');
SELECT is((SELECT attempt FROM pgstack.job(:j4)), (SELECT attempt FROM b2 WHERE id = :j4), '... with no attempt counted');
SELECT is(pgstack.job_batch_status((SELECT batch_id FROM b2 LIMIT 1), 'w2'), 'finished', 'a released batch is finished');
SELECT results_eq(format('SELECT scheduled, retryable, running, discarded, cancelled FROM pgstack.job_queue_stats() WHERE queue = %L', :'queue'),
                  $$VALUES (0::bigint, 1::bigint, 0::bigint, 0::bigint, 1::bigint)$$, 'job_queue_stats: per queue');

-- jobs_maintain: one process at a time runs it; the others get NULL at once.
SELECT lives_ok($$SELECT pgstack.jobs_maintain()$$, 'jobs_maintain');

-- job_enqueue_periodic enqueues one tick of a periodic job, and nothing when that tick (or
-- a later one) was enqueued already.
SELECT isnt(pgstack.job_enqueue_periodic('nightly-report', '0 3 * * *', '2026-12-01 03:00Z', 'email'), NULL,
            'job_enqueue_periodic enqueues a tick');
SELECT is(pgstack.job_enqueue_periodic('nightly-report', '0 3 * * *', '2026-12-01 03:00Z', 'email'), NULL, '... once');
SELECT is(pgstack.job_enqueue_periodic('nightly-report', '0 3 * * *', '2026-11-30 03:00Z', 'email'), NULL, '... and no earlier tick after it');
SELECT is((SELECT (args->>'periodic_tick')::timestamptz FROM pgstack.job_list('default') WHERE 'periodic:nightly-report' = ANY (tags)),
          '2026-12-01 03:00Z'::timestamptz, 'the job''s args carry its tick');
SELECT isnt(pgstack.job_enqueue_periodic('nightly-report', '0 3 * * *', '2026-12-02 03:00Z', 'email'), NULL, 'the next tick is enqueued');

-- Each deprecated name still works: one call each, through to the new function.
SELECT id AS dep FROM pgstack.enqueue('pgtap.echo', '{"n": 9}', :'queue') \gset
SELECT is(pgstack.job_state(:dep), 'available', 'deprecated enqueue still enqueues');
SELECT is((SELECT count(*) FROM pgstack.enqueue_many(ARRAY['pgtap.echo'], ARRAY['{}']::jsonb[], queues => ARRAY[:'queue'])),
          1::bigint, 'deprecated enqueue_many still enqueues');
SELECT isnt(pgstack.enqueue_periodic('pgtap-deprecated', '0 3 * * *', '2026-12-01 03:00Z', 'email'), NULL,
            'deprecated enqueue_periodic still enqueues a tick');
SELECT is((SELECT count(*) FROM pgstack.list_jobs(:'queue') WHERE id = :dep), 1::bigint, 'deprecated list_jobs still lists');
SELECT is(pgstack.cancel_job(:dep), 'cancelling', 'deprecated cancel_job still cancels');
SELECT throws_ok(format('SELECT pgstack.retry_job(%s)', :dep), '55000', NULL, 'deprecated retry_job still reaches job_retry');
SELECT lives_ok($$SELECT pgstack.register_job_kind('pgtap.deprecated')$$, 'deprecated register_job_kind still registers');
SELECT lives_ok(format('SELECT pgstack.create_job_queue(%L, 3)', :'queue' || '_old'), 'deprecated create_job_queue still creates');
SELECT lives_ok(format('SELECT pgstack.pause_job_queue(%L)', :'queue' || '_old'), 'deprecated pause_job_queue still pauses');
SELECT lives_ok(format('SELECT pgstack.resume_job_queue(%L)', :'queue' || '_old'), 'deprecated resume_job_queue still resumes');
SELECT lives_ok(format('SELECT pgstack.set_job_queue_limit(%L, 5)', :'queue' || '_old'), 'deprecated set_job_queue_limit still sets');
SELECT results_eq(format('SELECT paused, concurrency_limit FROM pgstack.job_queues WHERE name = %L', :'queue' || '_old'),
                  $$VALUES (false, 5)$$, '... through to the new functions');
SELECT is((SELECT count(*) FROM pgstack.claim_jobs(:'queue' || '_old', 'pgtap-old', 1)), 0::bigint,
          'deprecated claim_jobs still claims (nothing, from an empty queue)');
SELECT is((SELECT held FROM pgstack.heartbeat_batches('pgtap-old', '{-1}')), false, 'deprecated heartbeat_batches still answers');
SELECT throws_ok($$SELECT pgstack.complete_batch(-1, 'pgtap-old')$$, '55000', NULL, 'deprecated complete_batch still reaches job_batch_complete');
SELECT throws_ok($$SELECT pgstack.checkpoint_batch(-1, 'pgtap-old', '{}')$$, '55000', NULL, 'deprecated checkpoint_batch still reaches job_batch_checkpoint');
SELECT throws_ok($$SELECT pgstack.release_batch(-1, 'pgtap-old')$$, '55000', NULL, 'deprecated release_batch still reaches job_batch_release');
SELECT isnt(pgstack.watch_job_queue(:'queue' || '_old'), NULL, 'deprecated watch_job_queue still watches');
SELECT is(pgstack.unwatch_job_queue(:'queue' || '_old'), true, 'deprecated unwatch_job_queue still unwatches');

-- try_job_leader: the periodic scheduler's leadership, the core lease named 'jobs:<name>'.
SELECT is(pgstack.try_job_leader('periodic', 'w1', 30), true, 'try_job_leader takes a free leadership');
SELECT is(pgstack.lease_holder('jobs:periodic'), 'w1', '... the core lease jobs:periodic');
SELECT is(pgstack.try_job_leader('periodic', 'w2', 30), false, '... not another worker''s while it lasts');
SELECT is(pgstack.try_job_leader('periodic', 'w1', 60), true, '... its leader renews it');
SELECT ok((SELECT expires_at - clock_timestamp() > interval '59 seconds' FROM pgstack.leases WHERE name = 'jobs:periodic'),
          '... for the seconds it asks');
SELECT is(pgstack.try_job_leader('short', 'w1', 0.001), true, 'a short leadership is taken');
SELECT pg_sleep(0.01);
SELECT is(pgstack.try_job_leader('short', 'w2', 30), true, '... and taken over once it ran out');
SELECT throws_ok($$SELECT pgstack.try_job_leader('periodic', 'w1', 0)$$, '22023',
                 'lease jobs:periodic: ttl 00:00:00 is not positive', 'a leadership needs positive seconds');
SELECT hasnt_table('pgstack', 'job_leaders', 'job_leaders is gone: leaders are core leases');
SELECT ok((SELECT 'jit=off' = ANY (proconfig) FROM pg_proc WHERE oid = 'pgstack.job_queue_stats()'::regprocedure),
          'job_queue_stats runs with JIT off (its plan over unanalyzed queue tables passes jit_above_cost)');

SELECT * FROM finish();
ROLLBACK;

-- Run the four committed jobs, so that none is left waiting in the queue.
BEGIN;
CREATE TEMP TABLE drained AS
  SELECT b.batch_id, pgstack.job_batch_complete(b.batch_id, 'pgtap') IS NULL AS completed
    FROM (SELECT DISTINCT batch_id FROM pgstack.job_claim(:'queue', 'pgtap', 100)) b;
COMMIT;

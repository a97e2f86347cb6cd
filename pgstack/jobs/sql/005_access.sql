-- Who may do what in this module, and one convention for the whole SQL API
-- (docs/stack.md#security, schema/sql/003_access.sql):
--  * parameters take bare names, as the docs write them (kv_set(namespace, key, value,
--    ttl, mode)); functions whose parameters were p_-prefixed are made again;
--  * every function pins its search_path (pg_catalog, pgstack, pg_temp last);
--  * the queue's tables are the owner's: what writes them (enqueue_many, claim_jobs,
--    the batch functions, admin) runs as the owner; claim_jobs also turns JIT off
--    (a first claim's plan crossed every JIT threshold and compiled for ~260 ms);
--  * EXECUTE for readwrite (the API) and readonly (what only reads), never PUBLIC.

-- The functions whose parameters are renamed: dropped and made again below.
DROP FUNCTION pgstack.job_check_queue_name(text);
DROP FUNCTION pgstack.job_announce(text[]);
DROP FUNCTION pgstack.claim_jobs(text, text, integer, double precision);
DROP FUNCTION pgstack.job_latest(bigint[]);
DROP FUNCTION pgstack.job_reoffer(bigint[], text);
DROP FUNCTION pgstack.job_held_batch(bigint, text);
DROP FUNCTION pgstack.job_record_outcomes(pgstack.job_batches, bigint[], jsonb);
DROP FUNCTION pgstack.complete_batch(bigint, text, jsonb);
DROP FUNCTION pgstack.checkpoint_batch(bigint, text, bigint[], jsonb, double precision);
DROP FUNCTION pgstack.release_batch(bigint, text, bigint[], jsonb);
DROP FUNCTION pgstack.heartbeat_batches(text, bigint[], double precision);
DROP FUNCTION pgstack.job_state(bigint);
DROP FUNCTION pgstack.job_state_or_error(bigint);
DROP FUNCTION pgstack.job(bigint);
DROP FUNCTION pgstack.cancel_job(bigint);
DROP FUNCTION pgstack.retry_job(bigint);
DROP FUNCTION pgstack.job_queue_must_exist(text);
DROP FUNCTION pgstack.pause_job_queue(text);
DROP FUNCTION pgstack.resume_job_queue(text);
DROP FUNCTION pgstack.set_job_queue_limit(text, integer);
DROP FUNCTION pgstack.list_jobs(text, text, integer);
DROP FUNCTION pgstack.try_job_leader(text, text, double precision);
DROP FUNCTION pgstack.enqueue_periodic(text, text, timestamptz, text, jsonb, text);

-- Errors name what failed, why, and what to do; they are raised before anything is
-- written, so a bad call changes nothing.
CREATE FUNCTION pgstack.job_check_queue_name(name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
BEGIN
  IF p_name IS NULL OR p_name !~ '^[a-z0-9_][a-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid job queue name %', coalesce(quote_literal(p_name), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'A queue name is 1 to 63 characters: lower-case letters, digits, "_", "." and "-", starting with a letter, digit or "_".';
  END IF;
END
$$;

-- Jobs became available in these queues: wakes the workers listening. pg_notify drops
-- repeats of one payload within a transaction, so a transaction sends one notification
-- per queue however many jobs it enqueues (and however many statements it takes).
CREATE FUNCTION pgstack.job_announce(queues text[]) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pg_notify('pgstack_jobs', q) FROM (SELECT DISTINCT q FROM unnest(job_announce.queues) AS q) s;
$$;

-- Claims up to max_jobs jobs of a queue, highest priority first, as one batch leased to
-- worker for lease_seconds. Returns nothing when the queue is paused, empty, or at
-- its concurrency limit.
--
-- How the chunk is cut: each (queue, priority) has a cursor holding two snapshots. The
-- batch being handed out is every row whose enqueuing transaction is visible in tick_hi
-- and not in tick_lo, in (xid, id) order, and pos is how far it has been handed out.
-- When it is used up, tick_hi becomes tick_lo and a fresh snapshot becomes tick_hi.
-- Rows of a transaction still open at a tick fall into the batch of the first tick
-- after its commit, so none is skipped however out of order ids commit.
CREATE FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer DEFAULT 100, lease_seconds double precision DEFAULT 60)
RETURNS SETOF pgstack.claimed_job
-- The chunk must be read in index order, stopping after max_jobs rows. Row estimates for
-- a fresh xid range are near zero, which makes a full sort look cheaper to the planner;
-- with a backlog of 1M rows it is 200 times slower, so sorting is ruled out here.
SET enable_sort = off
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
  p_worker ALIAS FOR $2;
  p_limit ALIAS FOR $3;
  p_lease_seconds ALIAS FOR $4;
  q pgstack.job_queues;
  c pgstack.job_cursors;
  want integer := p_limit;
  v_priority smallint;
  v_rows pgstack.job_stream[];
  v_last pgstack.job_stream;
  v_batch bigint;
  v_hi pg_snapshot;
  v_unique bigint[];
  v_start xid8;
  v_any_cancel boolean;
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'claim_jobs: invalid limit %', p_limit USING ERRCODE = '22023', HINT = 'Claim between 1 and 10000 jobs at a time.';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'claim_jobs: invalid lease of % seconds', p_lease_seconds USING ERRCODE = '22023', HINT = 'A lease is 1 to 86400 seconds.';
  END IF;
  IF p_worker IS NULL OR length(p_worker) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'claim_jobs: invalid worker name' USING ERRCODE = '22023', HINT = 'Name the worker with 1 to 200 characters.';
  END IF;
  SELECT * INTO q FROM pgstack.job_queues WHERE name = p_queue;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown job queue %', coalesce(quote_literal(p_queue), 'NULL')
      USING ERRCODE = '42704', HINT = format('Create it first: SELECT pgstack.create_job_queue(%L);', p_queue);
  END IF;
  IF q.paused THEN RETURN; END IF;
  IF q.concurrency_limit IS NOT NULL THEN
    -- Claims of a limited queue take turns, so two cannot both see room for the last slot.
    PERFORM 1 FROM pgstack.job_queues WHERE name = p_queue FOR UPDATE;
    want := least(want, q.concurrency_limit - (
      SELECT coalesce(sum(b.job_count - cardinality(b.done_ids)), 0)::integer
        FROM pgstack.job_batches b WHERE b.queue = p_queue));
    IF want <= 0 THEN RETURN; END IF;
  END IF;

  FOR c IN SELECT * FROM pgstack.job_cursors WHERE queue = p_queue ORDER BY priority LOOP
    v_priority := c.priority;
    -- Skip a priority with no row past its last tick (one index probe, no lock).
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pgstack.job_stream s WHERE s.queue = p_queue AND s.priority = v_priority
                                 AND s.xid >= pg_snapshot_xmin(c.tick_lo));
    FOR round IN 1..2 LOOP
      SELECT * INTO c FROM pgstack.job_cursors WHERE queue = p_queue AND priority = v_priority FOR UPDATE;
      SELECT array_agg(t.s ORDER BY (t.s).xid, (t.s).id) INTO v_rows
        FROM (SELECT s FROM pgstack.job_stream s
               WHERE s.queue = p_queue AND s.priority = v_priority
                 AND (s.xid, s.id) > (c.pos_xid, c.pos_id)
                 AND s.xid < pg_snapshot_xmax(c.tick_hi)
                 AND pg_visible_in_snapshot(s.xid, c.tick_hi)
                 AND NOT pg_visible_in_snapshot(s.xid, c.tick_lo)
               ORDER BY s.xid, s.id
               LIMIT want) t;
      EXIT WHEN v_rows IS NOT NULL OR round = 2;
      -- The batch is used up: tick. The new snapshot is taken first; the next batch
      -- starts at the oldest job row written by a transaction that was open at the old
      -- tick (found by probing the old snapshot's in-progress list), else at the old
      -- tick's xmax, so a long transaction that enqueued nothing does not make every
      -- batch rescan what came after it. The probe runs in a later statement, so its
      -- snapshot sees every row visible in the new tick: a transaction that commits in
      -- between cannot fall behind the start.
      v_hi := pg_current_snapshot();
      v_start := coalesce(
        (SELECT min(x.xid) FROM pg_snapshot_xip(c.tick_hi) AS x (xid)
          WHERE EXISTS (SELECT 1 FROM pgstack.job_stream s
                         WHERE s.queue = p_queue AND s.priority = v_priority AND s.xid = x.xid)),
        pg_snapshot_xmax(c.tick_hi));
      UPDATE pgstack.job_cursors
         SET tick_lo = c.tick_hi, tick_hi = v_hi, pos_xid = v_start, pos_id = 0, ticked_at = now()
       WHERE queue = p_queue AND priority = v_priority;
    END LOOP;
    CONTINUE WHEN v_rows IS NULL;

    v_last := v_rows[cardinality(v_rows)];
    UPDATE pgstack.job_cursors SET pos_xid = v_last.xid, pos_id = v_last.id
     WHERE queue = p_queue AND priority = v_priority;
    INSERT INTO pgstack.job_batches (queue, priority, worker, tick_lo, tick_hi, from_xid, from_id, to_xid, to_id,
                                     job_count, unique_ids, lease_expires_at)
    SELECT p_queue, v_priority, p_worker, c.tick_lo, c.tick_hi, c.pos_xid, c.pos_id, v_last.xid, v_last.id,
           cardinality(v_rows), coalesce(array_agg(r.id) FILTER (WHERE r.unique_key IS NOT NULL), '{}'),
           now() + make_interval(secs => p_lease_seconds)
      FROM unnest(v_rows) r
    RETURNING id, unique_ids INTO v_batch, v_unique;
    IF cardinality(v_unique) > 0 THEN
      -- Keys enqueued with unique_while => 'pending' are free once the job starts.
      DELETE FROM pgstack.job_unique_keys u WHERE u.job_id = ANY (v_unique) AND u.release_at_start;
    END IF;
    v_any_cancel := EXISTS (SELECT 1 FROM pgstack.job_cancellations);
    RETURN QUERY
      SELECT v_batch, r.id, r.attempt, r.kind, r.args, r.queue, r.priority, r.max_attempts, r.enqueued_at,
             r.available_at, r.unique_key, r.tags, r.errors,
             v_any_cancel AND EXISTS (SELECT 1 FROM pgstack.job_cancellations x WHERE x.job_id = r.id)
        FROM unnest(v_rows) r;
    RETURN;
  END LOOP;
END
$$;
COMMENT ON FUNCTION pgstack.claim_jobs(text, text, integer, double precision) IS
  'Claims up to p_limit jobs of a queue as one leased batch (highest priority first)';

-- The latest attempt of each job in ids, as stored in the stream.
CREATE FUNCTION pgstack.job_latest(ids bigint[]) RETURNS SETOF pgstack.job_stream
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT DISTINCT ON (s.id) s.* FROM pgstack.job_stream s WHERE s.id = ANY (job_latest.ids) ORDER BY s.id, s.attempt DESC
$$;

-- Offers jobs again, each as a new stream row. lost_reason set: the attempt was lost
-- (its worker stopped heartbeating), so it counts: the error is recorded, the attempt
-- number goes up, and a job out of attempts is discarded. NULL: the jobs were handed
-- back unstarted (graceful shutdown) and keep their attempt. Returns how many jobs were
-- offered again.
CREATE FUNCTION pgstack.job_reoffer(ids bigint[], lost_reason text) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_ids ALIAS FOR $1;
  p_lost_reason ALIAS FOR $2;
  v_xid xid8 := pg_current_xact_id();
  v_slot smallint := pgstack.job_slot(v_xid);
  v_offered integer;
BEGIN
  IF cardinality(p_ids) = 0 THEN RETURN 0; END IF;
  WITH latest AS (
    SELECT s.*, CASE WHEN p_lost_reason IS NULL THEN s.errors
                     ELSE s.errors || jsonb_build_array(jsonb_build_object('attempt', s.attempt, 'at', now(), 'error', p_lost_reason))
                END AS new_errors
      FROM pgstack.job_latest(p_ids) s
  ), out_of_attempts AS (
    INSERT INTO pgstack.job_history (id, state, attempt, queue, priority, kind, args, max_attempts, enqueued_at,
                                     unique_key, tags, errors)
    SELECT l.id, 'discarded', l.attempt, l.queue, l.priority, l.kind, l.args, l.max_attempts, l.enqueued_at,
           l.unique_key, l.tags, l.new_errors
      FROM latest l WHERE p_lost_reason IS NOT NULL AND l.attempt >= l.max_attempts
    RETURNING id
  ), released AS (
    DELETE FROM pgstack.job_unique_keys u USING out_of_attempts o WHERE u.job_id = o.id
  ), uncancelled AS (
    DELETE FROM pgstack.job_cancellations x USING out_of_attempts o WHERE x.job_id = o.id
  ), offered AS (
    INSERT INTO pgstack.job_stream (id, attempt, xid, slot, queue, priority, kind, args, max_attempts,
                                    enqueued_at, available_at, unique_key, tags, errors)
    SELECT l.id, l.attempt + CASE WHEN p_lost_reason IS NULL THEN 0 ELSE 1 END, v_xid, v_slot,
           l.queue, l.priority, l.kind, l.args, l.max_attempts, l.enqueued_at, now(), l.unique_key, l.tags, l.new_errors
      FROM latest l WHERE p_lost_reason IS NULL OR l.attempt < l.max_attempts
    RETURNING queue
  )
  SELECT count(*) INTO v_offered FROM offered;
  PERFORM pgstack.job_announce(ARRAY(SELECT queue FROM pgstack.job_latest(p_ids)));
  RETURN v_offered;
END
$$;

-- The held batch, locked; an error saying what happened when worker no longer holds it.
CREATE FUNCTION pgstack.job_held_batch(batch bigint, worker text) RETURNS pgstack.job_batches
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_batch ALIAS FOR $1;
  p_worker ALIAS FOR $2;
  b pgstack.job_batches;
BEGIN
  SELECT * INTO b FROM pgstack.job_batches WHERE id = p_batch AND worker = p_worker FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job batch % is not held by worker %', p_batch, coalesce(quote_literal(p_worker), 'NULL')
      USING ERRCODE = '55000',
            DETAIL = 'Its lease ran out and its unfinished jobs were offered again, or it was already finished.',
            HINT = 'Heartbeat batches more often than their lease (pgstack.heartbeat_batches); the results of its jobs were not recorded.';
  END IF;
  RETURN b;
END
$$;

-- Records what happened to jobs of a held batch. succeeded: ids that completed, or
-- NULL for "every job of the batch not named in outcomes and not recorded before"
-- (the batch is finished). outcomes: the jobs that did not succeed,
-- [{"id": 1, "outcome": "retry"|"discard"|"cancel"|"snooze", "error": "...",
--   "delay_seconds": 30}]; a retry without delay_seconds backs off by attempt^4 seconds
-- (capped at a day) with ±10% jitter, and a retry of a job out of attempts discards it.
-- Returns the ids now finished with (succeeded and the outcomes' ids).
CREATE FUNCTION pgstack.job_record_outcomes(b pgstack.job_batches, succeeded bigint[], outcomes jsonb)
RETURNS bigint[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_succeeded ALIAS FOR $2;
  p_outcomes ALIAS FOR $3;
  v_bad text;
  v_outcome_ids bigint[];
  v_unfinished bigint[];
  v_still_active bigint[];   -- retried or snoozed: not ended, keep unique key and cancellation
  v_counts record;
  v_succeeded integer;
BEGIN
  p_outcomes := coalesce(p_outcomes, '[]');
  IF jsonb_typeof(p_outcomes) <> 'array' THEN
    RAISE EXCEPTION 'job outcomes must be a JSON array, not %', jsonb_typeof(p_outcomes) USING ERRCODE = '22023';
  END IF;
  SELECT format('%s (%s)', o.value, CASE
           WHEN jsonb_typeof(o.value -> 'id') IS DISTINCT FROM 'number' THEN 'no numeric id'
           WHEN coalesce(o.value ->> 'outcome', '') NOT IN ('retry', 'discard', 'cancel', 'snooze') THEN 'outcome is not retry, discard, cancel or snooze'
           ELSE 'delay_seconds must be between 0 and a year (required for a snooze)' END)
    INTO v_bad
    FROM jsonb_array_elements(p_outcomes) o
   WHERE jsonb_typeof(o.value -> 'id') IS DISTINCT FROM 'number'
      OR coalesce(o.value ->> 'outcome', '') NOT IN ('retry', 'discard', 'cancel', 'snooze')
      OR (o.value ->> 'outcome' = 'snooze' AND coalesce((o.value ->> 'delay_seconds')::double precision, -1) NOT BETWEEN 0 AND 31536000)
      OR (o.value ->> 'outcome' = 'retry' AND (o.value ->> 'delay_seconds')::double precision NOT BETWEEN 0 AND 31536000)
   LIMIT 1;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION 'invalid job outcome %', v_bad USING ERRCODE = '22023';
  END IF;
  v_outcome_ids := ARRAY(SELECT (v ->> 'id')::bigint FROM jsonb_array_elements(p_outcomes) v);

  -- Every id named must be an unfinished job of this batch, named once. Skipped when a
  -- batch finishes with no outcome: the common case costs no lookup of its rows.
  IF cardinality(v_outcome_ids) > 0 OR cardinality(p_succeeded) > 0 THEN
    v_unfinished := pgstack.job_batch_unfinished(b);
    SELECT format('job %s is not an unfinished job of batch %s', x, b.id) INTO v_bad
      FROM (SELECT unnest(v_outcome_ids) UNION ALL SELECT unnest(p_succeeded)) AS u (x)
     WHERE x NOT IN (SELECT unnest(v_unfinished))
     LIMIT 1;
    IF v_bad IS NULL THEN
      SELECT format('job %s is named twice', x) INTO v_bad
        FROM (SELECT unnest(v_outcome_ids) UNION ALL SELECT unnest(p_succeeded)) AS u (x)
       GROUP BY x HAVING count(*) > 1 LIMIT 1;
    END IF;
    IF v_bad IS NOT NULL THEN
      RAISE EXCEPTION 'invalid job outcome: %', v_bad USING ERRCODE = '22023';
    END IF;
  END IF;

  WITH o AS (
    SELECT (v ->> 'id')::bigint AS id, v ->> 'outcome' AS outcome, left(coalesce(v ->> 'error', ''), 10000) AS error,
           (v ->> 'delay_seconds')::double precision AS delay
      FROM jsonb_array_elements(p_outcomes) v
  ), j AS (
    SELECT s.*, o.outcome, o.delay,
           CASE WHEN o.outcome IN ('retry', 'discard') OR o.error <> ''
                THEN s.errors || jsonb_build_array(jsonb_build_object('attempt', s.attempt, 'at', now(), 'error', o.error))
                ELSE s.errors END AS new_errors,
           CASE WHEN o.outcome = 'retry' AND s.attempt >= s.max_attempts THEN 'discard' ELSE o.outcome END AS action
      FROM o JOIN pgstack.job_latest(v_outcome_ids) s ON s.id = o.id
  ), later AS (
    INSERT INTO pgstack.job_scheduled (id, attempt, queue, priority, kind, args, max_attempts, run_at, enqueued_at,
                                       unique_key, tags, errors)
    SELECT j.id, j.attempt + CASE WHEN j.action = 'retry' THEN 1 ELSE 0 END, j.queue, j.priority, j.kind, j.args,
           j.max_attempts,
           now() + make_interval(secs => coalesce(j.delay,
             least(power(j.attempt, 4), 86400) * (0.9 + random() * 0.2))),
           j.enqueued_at, j.unique_key, j.tags, j.new_errors
      FROM j WHERE j.action IN ('retry', 'snooze')
    RETURNING id
  ), ended AS (
    INSERT INTO pgstack.job_history (id, state, attempt, queue, priority, kind, args, max_attempts, enqueued_at,
                                     unique_key, tags, errors)
    SELECT j.id, CASE j.action WHEN 'cancel' THEN 'cancelled' ELSE 'discarded' END, j.attempt, j.queue, j.priority,
           j.kind, j.args, j.max_attempts, j.enqueued_at, j.unique_key, j.tags, j.new_errors
      FROM j WHERE j.action IN ('discard', 'cancel')
    RETURNING id, state
  )
  SELECT (SELECT count(*) FROM j WHERE j.action = 'retry') AS failed,
         (SELECT count(*) FROM ended WHERE state = 'discarded') AS discarded,
         (SELECT count(*) FROM ended WHERE state = 'cancelled') AS cancelled,
         ARRAY(SELECT id FROM later) AS later_ids
    INTO v_counts;
  v_still_active := v_counts.later_ids;
  v_succeeded := CASE WHEN p_succeeded IS NULL
                      THEN b.job_count - cardinality(b.done_ids) - cardinality(v_outcome_ids)
                      ELSE cardinality(p_succeeded) END;

  -- Unique keys are held until a job ends: completed, discarded or cancelled.
  IF cardinality(b.unique_ids) > 0 THEN
    DELETE FROM pgstack.job_unique_keys u WHERE u.job_id IN (
      SELECT unnest(b.unique_ids)
      EXCEPT SELECT unnest(b.done_ids)
      EXCEPT SELECT unnest(v_still_active)
      EXCEPT SELECT x FROM unnest(b.unique_ids) AS x
              WHERE p_succeeded IS NOT NULL AND NOT (x = ANY (p_succeeded || v_outcome_ids)));
  END IF;
  IF EXISTS (SELECT 1 FROM pgstack.job_cancellations) THEN
    DELETE FROM pgstack.job_cancellations x WHERE x.job_id IN (
      SELECT r.id FROM pgstack.job_batch_rows(b) r
       WHERE p_succeeded IS NULL OR r.id = ANY (p_succeeded || v_outcome_ids)
      EXCEPT SELECT unnest(v_still_active));
  END IF;

  INSERT INTO pgstack.job_counters AS k (worker, queue, completed, failed, discarded, cancelled)
  VALUES (b.worker, b.queue, v_succeeded, v_counts.failed, v_counts.discarded, v_counts.cancelled)
  ON CONFLICT ON CONSTRAINT job_counters_pkey DO UPDATE
    SET completed = k.completed + EXCLUDED.completed, failed = k.failed + EXCLUDED.failed,
        discarded = k.discarded + EXCLUDED.discarded, cancelled = k.cancelled + EXCLUDED.cancelled,
        updated_at = now();
  RETURN coalesce(p_succeeded, '{}') || v_outcome_ids;
END
$$;

-- Finishes a held batch: every job not in outcomes and not recorded before succeeded.
-- When all succeeded, this is the whole completion cost: one small row deleted.
CREATE FUNCTION pgstack.complete_batch(batch bigint, worker text, outcomes jsonb DEFAULT '[]') RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_batch ALIAS FOR $1;
  p_worker ALIAS FOR $2;
  p_outcomes ALIAS FOR $3;
  b pgstack.job_batches := pgstack.job_held_batch(p_batch, p_worker);
BEGIN
  PERFORM pgstack.job_record_outcomes(b, NULL, p_outcomes);
  DELETE FROM pgstack.job_batches WHERE id = b.id;
END
$$;
COMMENT ON FUNCTION pgstack.complete_batch(bigint, text, jsonb) IS
  'Finishes a claimed batch: jobs without an outcome succeeded; outcomes retry, discard, cancel or snooze the others';

-- Records progress on a held batch without finishing it (long batches): the jobs named
-- are never run again, even if the worker dies before complete_batch. Extends the lease.
CREATE FUNCTION pgstack.checkpoint_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb DEFAULT '[]', lease_seconds double precision DEFAULT 60)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_batch ALIAS FOR $1;
  p_worker ALIAS FOR $2;
  p_succeeded ALIAS FOR $3;
  p_outcomes ALIAS FOR $4;
  p_lease_seconds ALIAS FOR $5;
  b pgstack.job_batches := pgstack.job_held_batch(p_batch, p_worker);
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'checkpoint_batch: invalid lease of % seconds', p_lease_seconds USING ERRCODE = '22023',
      HINT = 'A lease is 1 to 86400 seconds.';
  END IF;
  UPDATE pgstack.job_batches
     SET done_ids = done_ids || pgstack.job_record_outcomes(b, coalesce(p_succeeded, '{}'), p_outcomes),
         lease_expires_at = now() + make_interval(secs => p_lease_seconds)
   WHERE id = b.id;
END
$$;

-- Hands a held batch back (graceful shutdown): records what finished, then offers every
-- other job again without counting an attempt. Returns how many were offered again.
CREATE FUNCTION pgstack.release_batch(batch bigint, worker text, succeeded bigint[] DEFAULT '{}', outcomes jsonb DEFAULT '[]') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_batch ALIAS FOR $1;
  p_worker ALIAS FOR $2;
  p_succeeded ALIAS FOR $3;
  p_outcomes ALIAS FOR $4;
  b pgstack.job_batches := pgstack.job_held_batch(p_batch, p_worker);
BEGIN
  b.done_ids := b.done_ids || pgstack.job_record_outcomes(b, coalesce(p_succeeded, '{}'), p_outcomes);
  DELETE FROM pgstack.job_batches WHERE id = b.id;
  RETURN pgstack.job_reoffer(pgstack.job_batch_unfinished(b), NULL);
END
$$;

-- Extends the leases of a worker's batches. For each batch asked about: whether the
-- worker still holds it, and which of its unfinished jobs have been asked to cancel.
CREATE FUNCTION pgstack.heartbeat_batches(worker text, batches bigint[], lease_seconds double precision DEFAULT 60)
RETURNS TABLE (batch_id bigint, held boolean, cancel_ids bigint[])
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_worker ALIAS FOR $1;
  p_batches ALIAS FOR $2;
  p_lease_seconds ALIAS FOR $3;
  b pgstack.job_batches;
  v_held bigint[] := '{}';
  v_any_cancel boolean := EXISTS (SELECT 1 FROM pgstack.job_cancellations);
BEGIN
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'heartbeat_batches: invalid lease of % seconds', p_lease_seconds USING ERRCODE = '22023';
  END IF;
  FOR b IN UPDATE pgstack.job_batches SET lease_expires_at = now() + make_interval(secs => p_lease_seconds)
            WHERE id = ANY (p_batches) AND worker = p_worker RETURNING * LOOP
    v_held := v_held || b.id;
    batch_id := b.id;
    held := true;
    cancel_ids := CASE WHEN v_any_cancel
                       THEN ARRAY(SELECT x.job_id FROM pgstack.job_cancellations x
                                   WHERE x.job_id = ANY (pgstack.job_batch_unfinished(b)))
                       ELSE '{}' END;
    RETURN NEXT;
  END LOOP;
  RETURN QUERY SELECT a.id, false, '{}'::bigint[] FROM unnest(p_batches) AS a (id) WHERE NOT (a.id = ANY (v_held));
END
$$;

-- Operating the queue: maintenance (rescue, due jobs, truncation, retention), job state,
-- cancel and retry, pause and resume, statistics, and leases for singletons.

-- What happens now to one job, derived from where its rows are (nothing is updated in
-- place, so there is no state column): scheduled or retryable (waiting in
-- job_scheduled), available (in the stream, not yet handed out), running (in a live
-- batch), completed (handed out and finished), discarded or cancelled (job_history).
-- NULL when no trace is left: never existed, or completed and truncated.
CREATE FUNCTION pgstack.job_state(job_id bigint) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_id ALIAS FOR $1;
  s pgstack.job_stream;
  c pgstack.job_cursors;
BEGIN
  IF EXISTS (SELECT 1 FROM pgstack.job_scheduled WHERE id = p_id AND errors = '[]') THEN RETURN 'scheduled'; END IF;
  IF EXISTS (SELECT 1 FROM pgstack.job_scheduled WHERE id = p_id) THEN RETURN 'retryable'; END IF;
  IF EXISTS (SELECT 1 FROM pgstack.job_history WHERE id = p_id) THEN
    RETURN (SELECT state FROM pgstack.job_history WHERE id = p_id);
  END IF;
  SELECT * INTO s FROM pgstack.job_latest(ARRAY[p_id]);
  IF NOT FOUND THEN RETURN NULL; END IF;
  IF EXISTS (SELECT 1 FROM pgstack.job_batches b
              WHERE b.queue = s.queue AND b.priority = s.priority
                AND (s.xid, s.id) > (b.from_xid, b.from_id) AND (s.xid, s.id) <= (b.to_xid, b.to_id)
                AND pg_visible_in_snapshot(s.xid, b.tick_hi) AND NOT pg_visible_in_snapshot(s.xid, b.tick_lo)
                AND NOT (p_id = ANY (b.done_ids))) THEN
    RETURN 'running';
  END IF;
  SELECT * INTO c FROM pgstack.job_cursors WHERE queue = s.queue AND priority = s.priority;
  IF pg_visible_in_snapshot(s.xid, c.tick_lo)
     OR (pg_visible_in_snapshot(s.xid, c.tick_hi) AND (s.xid, s.id) <= (c.pos_xid, c.pos_id)) THEN
    RETURN 'completed';
  END IF;
  RETURN 'available';
END
$$;

-- job_state, or an error when the job left no trace.
CREATE FUNCTION pgstack.job_state_or_error(job_id bigint) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_id ALIAS FOR $1;
  v_state text := pgstack.job_state(p_id);
BEGIN
  IF v_state IS NULL THEN
    RAISE EXCEPTION 'no job %', p_id USING ERRCODE = '42704',
      HINT = 'It never existed, or it completed and its partition was truncated.';
  END IF;
  RETURN v_state;
END
$$;

-- One job with its state, for `pgstack jobs show` and any client.
CREATE FUNCTION pgstack.job(job_id bigint)
RETURNS TABLE (id bigint, state text, queue text, kind text, args jsonb, priority smallint, attempt integer,
               max_attempts integer, enqueued_at timestamptz, run_at timestamptz, finished_at timestamptz,
               unique_key text, tags text[], errors jsonb, cancel_requested boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH st AS (SELECT pgstack.job_state(job.job_id) AS state)
  SELECT j.id, st.state, j.queue, j.kind, j.args, j.priority, j.attempt, j.max_attempts, j.enqueued_at, j.run_at,
         j.finished_at, j.unique_key, j.tags, j.errors,
         EXISTS (SELECT 1 FROM pgstack.job_cancellations x WHERE x.job_id = job.job_id)
    FROM st, LATERAL (
      SELECT id, queue, kind, args, priority, attempt, max_attempts, enqueued_at, run_at, NULL::timestamptz AS finished_at,
             unique_key, tags, errors FROM pgstack.job_scheduled WHERE id = job.job_id AND st.state IN ('scheduled', 'retryable')
      UNION ALL
      SELECT id, queue, kind, args, priority, attempt, max_attempts, enqueued_at, NULL, finished_at,
             unique_key, tags, errors FROM pgstack.job_history WHERE id = job.job_id AND st.state IN ('discarded', 'cancelled')
      UNION ALL
      SELECT id, queue, kind, args, priority, attempt, max_attempts, enqueued_at, available_at, NULL,
             unique_key, tags, errors FROM pgstack.job_latest(ARRAY[job.job_id]) WHERE st.state IN ('available', 'running', 'completed')
    ) j
$$;

-- Cancels a job. A scheduled or retryable job is cancelled at once; an available or
-- running one is marked, and its worker skips it or fires its handler's cancel token.
-- Returns the job's state after the call: 'cancelled' or 'cancelling'. An error when
-- the job has already ended or does not exist.
CREATE FUNCTION pgstack.cancel_job(job_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_id ALIAS FOR $1;
  v_state text;
BEGIN
  -- Lock a scheduled row so a concurrent promotion cannot move it meanwhile.
  PERFORM 1 FROM pgstack.job_scheduled WHERE id = p_id FOR UPDATE;
  v_state := pgstack.job_state_or_error(p_id);
  IF v_state IN ('completed', 'discarded', 'cancelled') THEN
    RAISE EXCEPTION 'job % has already ended (%)', p_id, v_state USING ERRCODE = '55000',
      HINT = 'Only scheduled, retryable, available and running jobs can be cancelled.';
  ELSIF v_state IN ('scheduled', 'retryable') THEN
    WITH moved AS (DELETE FROM pgstack.job_scheduled WHERE id = p_id RETURNING *)
    INSERT INTO pgstack.job_history (id, state, attempt, queue, priority, kind, args, max_attempts, enqueued_at,
                                     unique_key, tags, errors)
    SELECT id, 'cancelled', attempt, queue, priority, kind, args, max_attempts, enqueued_at, unique_key, tags, errors FROM moved;
    DELETE FROM pgstack.job_unique_keys WHERE job_id = p_id;
    RETURN 'cancelled';
  END IF;
  INSERT INTO pgstack.job_cancellations (job_id) VALUES (p_id) ON CONFLICT DO NOTHING;
  RETURN 'cancelling';
END
$$;

-- Runs a job again now: a discarded or cancelled job gets one more attempt, a scheduled
-- or retryable one runs without waiting. Returns the new state ('available').
CREATE FUNCTION pgstack.retry_job(job_id bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_id ALIAS FOR $1;
  v_state text;
  v_xid xid8;
  v_slot smallint;
  h pgstack.job_history;
BEGIN
  PERFORM 1 FROM pgstack.job_scheduled WHERE id = p_id FOR UPDATE;
  PERFORM 1 FROM pgstack.job_history WHERE id = p_id FOR UPDATE;
  v_state := pgstack.job_state_or_error(p_id);
  IF v_state IN ('available', 'running', 'completed') THEN
    RAISE EXCEPTION 'job % is % and cannot be retried', p_id, v_state USING ERRCODE = '55000',
      HINT = 'Retry works on scheduled, retryable, discarded and cancelled jobs.';
  END IF;
  v_xid := pg_current_xact_id();
  v_slot := pgstack.job_slot(v_xid);
  IF v_state IN ('scheduled', 'retryable') THEN
    WITH moved AS (DELETE FROM pgstack.job_scheduled WHERE id = p_id RETURNING *)
    INSERT INTO pgstack.job_stream (id, attempt, xid, slot, queue, priority, kind, args, max_attempts, enqueued_at,
                                    available_at, unique_key, tags, errors)
    SELECT id, attempt, v_xid, v_slot, queue, priority, kind, args, max_attempts, enqueued_at, now(),
           unique_key, tags, errors FROM moved;
  ELSE
    DELETE FROM pgstack.job_history WHERE id = p_id RETURNING * INTO h;
    IF h.unique_key IS NOT NULL THEN
      INSERT INTO pgstack.job_unique_keys (queue, unique_key, job_id) VALUES (h.queue, h.unique_key, h.id)
      ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'job % cannot be retried: its unique key % is held by job %', p_id, quote_literal(h.unique_key),
          (SELECT job_id FROM pgstack.job_unique_keys WHERE queue = h.queue AND unique_key = h.unique_key)
          USING ERRCODE = '23505', HINT = 'Wait for that job to end, or cancel it.';
      END IF;
    END IF;
    DELETE FROM pgstack.job_cancellations WHERE job_id = p_id;
    INSERT INTO pgstack.job_stream (id, attempt, xid, slot, queue, priority, kind, args, max_attempts, enqueued_at,
                                    available_at, unique_key, tags, errors)
    VALUES (h.id, h.attempt + 1, v_xid, v_slot, h.queue, h.priority, h.kind, h.args,
            greatest(h.max_attempts, h.attempt + 1), h.enqueued_at, now(), h.unique_key, h.tags, h.errors);
  END IF;
  PERFORM pgstack.job_announce(ARRAY(SELECT queue FROM pgstack.job_latest(ARRAY[p_id])));
  RETURN 'available';
END
$$;

CREATE FUNCTION pgstack.job_queue_must_exist(queue text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pgstack.job_queues WHERE name = p_queue) THEN
    RAISE EXCEPTION 'unknown job queue %', coalesce(quote_literal(p_queue), 'NULL')
      USING ERRCODE = '42704', HINT = 'pgstack jobs stats lists the queues (or: SELECT name FROM pgstack.job_queues).';
  END IF;
END
$$;

CREATE FUNCTION pgstack.pause_job_queue(queue text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  UPDATE pgstack.job_queues SET paused = true WHERE name = p_queue;
END
$$;
COMMENT ON FUNCTION pgstack.pause_job_queue(text) IS 'Stops workers claiming jobs of the queue (running jobs finish)';

CREATE FUNCTION pgstack.resume_job_queue(queue text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  UPDATE pgstack.job_queues SET paused = false WHERE name = p_queue;
  PERFORM pg_notify('pgstack_jobs', p_queue);
END
$$;

CREATE FUNCTION pgstack.set_job_queue_limit(queue text, concurrency_limit integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
  p_limit ALIAS FOR $2;
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  IF p_limit IS NOT NULL AND p_limit < 1 THEN
    RAISE EXCEPTION 'invalid concurrency limit %', p_limit USING ERRCODE = '22023', HINT = 'Give 1 or more, or NULL for no limit.';
  END IF;
  UPDATE pgstack.job_queues SET concurrency_limit = p_limit WHERE name = p_queue;
END
$$;

-- Jobs of a queue (or all) in a state (or all), newest first, for `pgstack jobs list`;
-- the same columns as pgstack.job(). Completed jobs are not listed: nothing is kept per
-- completed job but its stream row.
CREATE FUNCTION pgstack.list_jobs(queue_name text DEFAULT NULL, state_name text DEFAULT NULL, max_rows integer DEFAULT 50)
RETURNS TABLE (id bigint, state text, queue text, kind text, args jsonb, priority smallint, attempt integer,
               max_attempts integer, enqueued_at timestamptz, run_at timestamptz, finished_at timestamptz,
               unique_key text, tags text[], errors jsonb, cancel_requested boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
  p_state ALIAS FOR $2;
  p_limit ALIAS FOR $3;
BEGIN
  IF p_queue IS NOT NULL THEN PERFORM pgstack.job_queue_must_exist(p_queue); END IF;
  IF p_state IS NOT NULL AND p_state NOT IN ('scheduled', 'retryable', 'available', 'running', 'discarded', 'cancelled') THEN
    RAISE EXCEPTION 'unknown job state %', quote_literal(p_state) USING ERRCODE = '22023',
      HINT = 'States: scheduled, retryable, available, running, discarded, cancelled.';
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'invalid limit %', p_limit USING ERRCODE = '22023', HINT = 'List 1 to 10000 jobs.';
  END IF;
  RETURN QUERY
  SELECT j.*, EXISTS (SELECT 1 FROM pgstack.job_cancellations x WHERE x.job_id = j.id) FROM (
    SELECT s.id, CASE WHEN s.errors = '[]' THEN 'scheduled' ELSE 'retryable' END AS state, s.queue, s.kind, s.args,
           s.priority, s.attempt, s.max_attempts, s.enqueued_at, s.run_at, NULL::timestamptz AS finished_at,
           s.unique_key, s.tags, s.errors
      FROM pgstack.job_scheduled s
     WHERE (p_queue IS NULL OR s.queue = p_queue) AND (p_state IS NULL OR p_state IN ('scheduled', 'retryable'))
    UNION ALL
    SELECT h.id, h.state, h.queue, h.kind, h.args, h.priority, h.attempt, h.max_attempts, h.enqueued_at, NULL,
           h.finished_at, h.unique_key, h.tags, h.errors
      FROM pgstack.job_history h
     WHERE (p_queue IS NULL OR h.queue = p_queue) AND (p_state IS NULL OR h.state = p_state)
    UNION ALL
    SELECT s.id, 'running', s.queue, s.kind, s.args, s.priority, s.attempt, s.max_attempts, s.enqueued_at,
           s.available_at, NULL, s.unique_key, s.tags, s.errors
      FROM pgstack.job_batches b, pgstack.job_latest(pgstack.job_batch_unfinished(b)) s
     WHERE (p_queue IS NULL OR b.queue = p_queue) AND (p_state IS NULL OR p_state = 'running')
    UNION ALL
    SELECT s.id, 'available', s.queue, s.kind, s.args, s.priority, s.attempt, s.max_attempts, s.enqueued_at,
           s.available_at, NULL, s.unique_key, s.tags, s.errors
      FROM pgstack.job_cursors c JOIN pgstack.job_stream s ON s.queue = c.queue AND s.priority = c.priority
     WHERE (p_queue IS NULL OR c.queue = p_queue) AND (p_state IS NULL OR p_state = 'available')
       AND s.xid >= pg_snapshot_xmin(c.tick_lo) AND NOT pg_visible_in_snapshot(s.xid, c.tick_lo)
       AND ((s.xid, s.id) > (c.pos_xid, c.pos_id) OR NOT pg_visible_in_snapshot(s.xid, c.tick_hi))
  ) j
  ORDER BY j.id DESC
  LIMIT p_limit;
END
$$;

-- Leases for singletons (the periodic-job scheduler, one per deployment): returns true
-- when holder holds the lease named name for the next seconds, having renewed it
-- or taken it over after it ran out.
CREATE FUNCTION pgstack.try_job_leader(name text, holder text, seconds double precision) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  INSERT INTO pgstack.job_leaders AS l (name, holder, expires_at)
  VALUES (try_job_leader.name, try_job_leader.holder, clock_timestamp() + make_interval(secs => try_job_leader.seconds))
  ON CONFLICT ON CONSTRAINT job_leaders_pkey DO UPDATE
    SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at < clock_timestamp()
  RETURNING true
$$;

-- Enqueues the periodic job name for the tick tick, unless that tick (or a later
-- one) was already enqueued. Returns the job id, or NULL when the tick was taken.
CREATE FUNCTION pgstack.enqueue_periodic(name text, cron text, tick timestamptz, kind text, args jsonb DEFAULT '{}', queue text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
  p_cron ALIAS FOR $2;
  p_tick ALIAS FOR $3;
  p_kind ALIAS FOR $4;
  p_args ALIAS FOR $5;
  p_queue ALIAS FOR $6;
  v_id bigint;
BEGIN
  IF p_name IS NULL OR length(p_name) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'invalid periodic job name' USING ERRCODE = '22023', HINT = 'Name it with 1 to 200 characters.';
  END IF;
  INSERT INTO pgstack.job_periodic AS p (name, cron, last_tick) VALUES (p_name, p_cron, p_tick)
  ON CONFLICT ON CONSTRAINT job_periodic_pkey DO UPDATE
    SET last_tick = EXCLUDED.last_tick, cron = EXCLUDED.cron, updated_at = now()
    WHERE p.last_tick < EXCLUDED.last_tick;
  IF NOT FOUND THEN RETURN NULL; END IF;
  -- The handler learns which tick it runs for from args.periodic_tick.
  SELECT id INTO v_id
    FROM pgstack.enqueue(p_kind,
                         CASE WHEN jsonb_typeof(p_args) = 'object' THEN p_args || jsonb_build_object('periodic_tick', p_tick)
                              ELSE p_args END,
                         p_queue, tags => ARRAY['periodic:' || left(p_name, 55)]);
  RETURN v_id;
END
$$;

-- The others keep their definitions; they pin their search_path (and run as the owner where
-- they write what only the owner may write).
ALTER FUNCTION pgstack.job_queue_created() SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_slot(xid8) SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.create_job_queue(text, integer) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.register_job_kind(text, text, integer, integer) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.enqueue_many(text[], jsonb[], text[], integer[], timestamptz[], integer[], text[], text[], text) SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.enqueue(text, jsonb, text, integer, timestamptz, integer, text, text[], text) SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_batch_rows(pgstack.job_batches) SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_batch_unfinished(pgstack.job_batches) SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_queue_stats() SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.job_slot_finished(integer) SECURITY INVOKER SET search_path = pg_catalog, pgstack, pg_temp;
ALTER FUNCTION pgstack.jobs_maintain() SECURITY DEFINER SET search_path = pg_catalog, pgstack, pg_temp;

-- Who may call what: nobody by default (PUBLIC), readwrite the API, readonly the reads.
REVOKE ALL ON FUNCTION pgstack.job_queue_created() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_slot(xid8) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_check_queue_name(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.create_job_queue(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.register_job_kind(text, text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.enqueue_many(text[], jsonb[], text[], integer[], timestamptz[], integer[], text[], text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.enqueue(text, jsonb, text, integer, timestamptz, integer, text, text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_announce(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.claim_jobs(text, text, integer, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_latest(bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_batch_rows(pgstack.job_batches) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_batch_unfinished(pgstack.job_batches) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_reoffer(bigint[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_held_batch(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_record_outcomes(pgstack.job_batches, bigint[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.complete_batch(bigint, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.checkpoint_batch(bigint, text, bigint[], jsonb, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.release_batch(bigint, text, bigint[], jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.heartbeat_batches(text, bigint[], double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_state(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_state_or_error(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.cancel_job(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.retry_job(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_queue_must_exist(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.pause_job_queue(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.resume_job_queue(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.set_job_queue_limit(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_queue_stats() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.list_jobs(text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.try_job_leader(text, text, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_slot_finished(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.jobs_maintain() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.enqueue_periodic(text, text, timestamptz, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.create_job_queue(text, integer),
  pgstack.register_job_kind(text, text, integer, integer),
  pgstack.enqueue_many(text[], jsonb[], text[], integer[], timestamptz[], integer[], text[], text[], text),
  pgstack.enqueue(text, jsonb, text, integer, timestamptz, integer, text, text[], text),
  pgstack.job_announce(text[]),
  pgstack.claim_jobs(text, text, integer, double precision),
  pgstack.complete_batch(bigint, text, jsonb),
  pgstack.checkpoint_batch(bigint, text, bigint[], jsonb, double precision),
  pgstack.release_batch(bigint, text, bigint[], jsonb),
  pgstack.heartbeat_batches(text, bigint[], double precision),
  pgstack.cancel_job(bigint),
  pgstack.retry_job(bigint),
  pgstack.pause_job_queue(text),
  pgstack.resume_job_queue(text),
  pgstack.set_job_queue_limit(text, integer),
  pgstack.try_job_leader(text, text, double precision),
  pgstack.jobs_maintain(),
  pgstack.enqueue_periodic(text, text, timestamptz, text, jsonb, text)
  TO readwrite;
GRANT EXECUTE ON FUNCTION
  pgstack.job_slot(xid8),
  pgstack.job_check_queue_name(text),
  pgstack.job_latest(bigint[]),
  pgstack.job_batch_rows(pgstack.job_batches),
  pgstack.job_batch_unfinished(pgstack.job_batches),
  pgstack.job_state(bigint),
  pgstack.job_state_or_error(bigint),
  pgstack.job(bigint),
  pgstack.job_queue_must_exist(text),
  pgstack.job_queue_stats(),
  pgstack.list_jobs(text, text, integer),
  pgstack.job_slot_finished(integer)
  TO readwrite, readonly;

-- Tables: read by both roles, written only by the functions above.
REVOKE ALL ON pgstack.job_queues, pgstack.job_kinds, pgstack.job_stream, pgstack.job_stream_0, pgstack.job_stream_1,
  pgstack.job_stream_2, pgstack.job_cursors, pgstack.job_batches, pgstack.job_scheduled, pgstack.job_history,
  pgstack.job_unique_keys, pgstack.job_cancellations, pgstack.job_leaders, pgstack.job_counters, pgstack.job_epochs,
  pgstack.job_settings, pgstack.job_periodic
  FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.job_queues, pgstack.job_kinds, pgstack.job_stream, pgstack.job_cursors, pgstack.job_batches,
  pgstack.job_scheduled, pgstack.job_history, pgstack.job_unique_keys, pgstack.job_cancellations, pgstack.job_leaders,
  pgstack.job_counters, pgstack.job_epochs, pgstack.job_settings, pgstack.job_periodic
  TO readwrite, readonly;
REVOKE ALL ON SEQUENCE pgstack.job_id_seq, pgstack.job_batches_id_seq FROM PUBLIC, readwrite, readonly;

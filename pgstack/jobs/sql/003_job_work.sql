-- Working jobs: claim a chunk under a lease, heartbeat it, finish it (with the outcome
-- of every job that did not succeed), or release it on shutdown. The Worker runtime
-- (pgstack/jobs/worker.h) is one client of these; any language can be another.

-- The jobs of one claimed chunk, as handed to the worker.
CREATE TYPE pgstack.claimed_job AS (
  batch_id bigint,
  id bigint,
  attempt integer,
  kind text,
  args jsonb,
  queue text,
  priority smallint,
  max_attempts integer,
  enqueued_at timestamptz,
  available_at timestamptz,
  unique_key text,
  tags text[],
  errors jsonb,
  cancelled boolean   -- cancellation was requested before it started: do not run it
);

-- Claims up to p_limit jobs of a queue, highest priority first, as one batch leased to
-- p_worker for p_lease_seconds. Returns nothing when the queue is paused, empty, or at
-- its concurrency limit.
--
-- How the chunk is cut: each (queue, priority) has a cursor holding two snapshots. The
-- batch being handed out is every row whose enqueuing transaction is visible in tick_hi
-- and not in tick_lo, in (xid, id) order, and pos is how far it has been handed out.
-- When it is used up, tick_hi becomes tick_lo and a fresh snapshot becomes tick_hi.
-- Rows of a transaction still open at a tick fall into the batch of the first tick
-- after its commit, so none is skipped however out of order ids commit.
CREATE FUNCTION pgstack.claim_jobs(p_queue text, p_worker text, p_limit integer DEFAULT 100,
                                   p_lease_seconds double precision DEFAULT 60)
RETURNS SETOF pgstack.claimed_job
-- The chunk must be read in index order, stopping after p_limit rows. Row estimates for
-- a fresh xid range are near zero, which makes a full sort look cheaper to the planner;
-- with a backlog of 1M rows it is 200 times slower, so sorting is ruled out here.
SET enable_sort = off
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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

-- The latest attempt of each job in p_ids, as stored in the stream.
CREATE FUNCTION pgstack.job_latest(p_ids bigint[]) RETURNS SETOF pgstack.job_stream
LANGUAGE sql STABLE AS $$
  SELECT DISTINCT ON (s.id) s.* FROM pgstack.job_stream s WHERE s.id = ANY (p_ids) ORDER BY s.id, s.attempt DESC
$$;

-- The stream rows of a claimed batch: its bounds select exactly the rows it was cut
-- with, since stream rows never change and later commits are not visible in tick_hi.
CREATE FUNCTION pgstack.job_batch_rows(b pgstack.job_batches) RETURNS SETOF pgstack.job_stream
LANGUAGE sql STABLE AS $$
  SELECT s.* FROM pgstack.job_stream s
   WHERE s.queue = b.queue AND s.priority = b.priority
     AND (s.xid, s.id) > (b.from_xid, b.from_id) AND (s.xid, s.id) <= (b.to_xid, b.to_id)
     AND pg_visible_in_snapshot(s.xid, b.tick_hi) AND NOT pg_visible_in_snapshot(s.xid, b.tick_lo)
$$;

-- The ids of a batch's jobs not yet recorded as finished.
CREATE FUNCTION pgstack.job_batch_unfinished(b pgstack.job_batches) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
  SELECT ARRAY(SELECT r.id FROM pgstack.job_batch_rows(b) r EXCEPT SELECT unnest(b.done_ids))
$$;

-- Offers jobs again, each as a new stream row. p_lost_reason set: the attempt was lost
-- (its worker stopped heartbeating), so it counts: the error is recorded, the attempt
-- number goes up, and a job out of attempts is discarded. NULL: the jobs were handed
-- back unstarted (graceful shutdown) and keep their attempt. Returns how many jobs were
-- offered again.
CREATE FUNCTION pgstack.job_reoffer(p_ids bigint[], p_lost_reason text) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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

-- The held batch, locked; an error saying what happened when p_worker no longer holds it.
CREATE FUNCTION pgstack.job_held_batch(p_batch bigint, p_worker text) RETURNS pgstack.job_batches
LANGUAGE plpgsql AS $$
DECLARE
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

-- Records what happened to jobs of a held batch. p_succeeded: ids that completed, or
-- NULL for "every job of the batch not named in p_outcomes and not recorded before"
-- (the batch is finished). p_outcomes: the jobs that did not succeed,
-- [{"id": 1, "outcome": "retry"|"discard"|"cancel"|"snooze", "error": "...",
--   "delay_seconds": 30}]; a retry without delay_seconds backs off by attempt^4 seconds
-- (capped at a day) with ±10% jitter, and a retry of a job out of attempts discards it.
-- Returns the ids now finished with (p_succeeded and the outcomes' ids).
CREATE FUNCTION pgstack.job_record_outcomes(b pgstack.job_batches, p_succeeded bigint[], p_outcomes jsonb)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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

-- Finishes a held batch: every job not in p_outcomes and not recorded before succeeded.
-- When all succeeded, this is the whole completion cost: one small row deleted.
CREATE FUNCTION pgstack.complete_batch(p_batch bigint, p_worker text, p_outcomes jsonb DEFAULT '[]') RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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
CREATE FUNCTION pgstack.checkpoint_batch(p_batch bigint, p_worker text, p_succeeded bigint[],
                                         p_outcomes jsonb DEFAULT '[]', p_lease_seconds double precision DEFAULT 60)
RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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
CREATE FUNCTION pgstack.release_batch(p_batch bigint, p_worker text, p_succeeded bigint[] DEFAULT '{}',
                                      p_outcomes jsonb DEFAULT '[]') RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  b pgstack.job_batches := pgstack.job_held_batch(p_batch, p_worker);
BEGIN
  b.done_ids := b.done_ids || pgstack.job_record_outcomes(b, coalesce(p_succeeded, '{}'), p_outcomes);
  DELETE FROM pgstack.job_batches WHERE id = b.id;
  RETURN pgstack.job_reoffer(pgstack.job_batch_unfinished(b), NULL);
END
$$;

-- Extends the leases of a worker's batches. For each batch asked about: whether the
-- worker still holds it, and which of its unfinished jobs have been asked to cancel.
CREATE FUNCTION pgstack.heartbeat_batches(p_worker text, p_batches bigint[], p_lease_seconds double precision DEFAULT 60)
RETURNS TABLE (batch_id bigint, held boolean, cancel_ids bigint[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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

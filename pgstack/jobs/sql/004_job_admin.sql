-- Operating the queue: maintenance (rescue, due jobs, truncation, retention), job state,
-- cancel and retry, pause and resume, statistics, and leases for singletons.

-- What happens now to one job, derived from where its rows are (nothing is updated in
-- place, so there is no state column): scheduled or retryable (waiting in
-- job_scheduled), available (in the stream, not yet handed out), running (in a live
-- batch), completed (handed out and finished), discarded or cancelled (job_history).
-- NULL when no trace is left: never existed, or completed and truncated.
CREATE FUNCTION pgstack.job_state(p_id bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
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
CREATE FUNCTION pgstack.job_state_or_error(p_id bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
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
CREATE FUNCTION pgstack.job(p_id bigint)
RETURNS TABLE (id bigint, state text, queue text, kind text, args jsonb, priority smallint, attempt integer,
               max_attempts integer, enqueued_at timestamptz, run_at timestamptz, finished_at timestamptz,
               unique_key text, tags text[], errors jsonb, cancel_requested boolean)
LANGUAGE sql STABLE AS $$
  WITH st AS (SELECT pgstack.job_state(p_id) AS state)
  SELECT j.id, st.state, j.queue, j.kind, j.args, j.priority, j.attempt, j.max_attempts, j.enqueued_at, j.run_at,
         j.finished_at, j.unique_key, j.tags, j.errors,
         EXISTS (SELECT 1 FROM pgstack.job_cancellations x WHERE x.job_id = p_id)
    FROM st, LATERAL (
      SELECT id, queue, kind, args, priority, attempt, max_attempts, enqueued_at, run_at, NULL::timestamptz AS finished_at,
             unique_key, tags, errors FROM pgstack.job_scheduled WHERE id = p_id AND st.state IN ('scheduled', 'retryable')
      UNION ALL
      SELECT id, queue, kind, args, priority, attempt, max_attempts, enqueued_at, NULL, finished_at,
             unique_key, tags, errors FROM pgstack.job_history WHERE id = p_id AND st.state IN ('discarded', 'cancelled')
      UNION ALL
      SELECT id, queue, kind, args, priority, attempt, max_attempts, enqueued_at, available_at, NULL,
             unique_key, tags, errors FROM pgstack.job_latest(ARRAY[p_id]) WHERE st.state IN ('available', 'running', 'completed')
    ) j
$$;

-- Cancels a job. A scheduled or retryable job is cancelled at once; an available or
-- running one is marked, and its worker skips it or fires its handler's cancel token.
-- Returns the job's state after the call: 'cancelled' or 'cancelling'. An error when
-- the job has already ended or does not exist.
CREATE FUNCTION pgstack.cancel_job(p_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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
CREATE FUNCTION pgstack.retry_job(p_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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

CREATE FUNCTION pgstack.job_queue_must_exist(p_queue text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pgstack.job_queues WHERE name = p_queue) THEN
    RAISE EXCEPTION 'unknown job queue %', coalesce(quote_literal(p_queue), 'NULL')
      USING ERRCODE = '42704', HINT = 'pgstack jobs stats lists the queues (or: SELECT name FROM pgstack.job_queues).';
  END IF;
END
$$;

CREATE FUNCTION pgstack.pause_job_queue(p_queue text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  UPDATE pgstack.job_queues SET paused = true WHERE name = p_queue;
END
$$;
COMMENT ON FUNCTION pgstack.pause_job_queue(text) IS 'Stops workers claiming jobs of the queue (running jobs finish)';

CREATE FUNCTION pgstack.resume_job_queue(p_queue text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  UPDATE pgstack.job_queues SET paused = false WHERE name = p_queue;
  PERFORM pg_notify('pgstack_jobs', p_queue);
END
$$;

CREATE FUNCTION pgstack.set_job_queue_limit(p_queue text, p_limit integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  IF p_limit IS NOT NULL AND p_limit < 1 THEN
    RAISE EXCEPTION 'invalid concurrency limit %', p_limit USING ERRCODE = '22023', HINT = 'Give 1 or more, or NULL for no limit.';
  END IF;
  UPDATE pgstack.job_queues SET concurrency_limit = p_limit WHERE name = p_queue;
END
$$;

-- Per queue: how many jobs are in each state, the finished totals, and the oldest
-- available job (how far behind the workers are).
CREATE FUNCTION pgstack.job_queue_stats()
RETURNS TABLE (queue text, paused boolean, concurrency_limit integer, scheduled bigint, retryable bigint,
               available bigint, running bigint, completed bigint, failed bigint, discarded bigint,
               cancelled bigint, rescued bigint, oldest_available_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT q.name, q.paused, q.concurrency_limit,
         (SELECT count(*) FROM pgstack.job_scheduled s WHERE s.queue = q.name AND s.errors = '[]'),
         (SELECT count(*) FROM pgstack.job_scheduled s WHERE s.queue = q.name AND s.errors <> '[]'),
         coalesce(a.available, 0),
         (SELECT coalesce(sum(b.job_count - cardinality(b.done_ids)), 0) FROM pgstack.job_batches b WHERE b.queue = q.name),
         coalesce(k.completed, 0), coalesce(k.failed, 0),
         (SELECT count(*) FROM pgstack.job_history h WHERE h.queue = q.name AND h.state = 'discarded'),
         (SELECT count(*) FROM pgstack.job_history h WHERE h.queue = q.name AND h.state = 'cancelled'),
         coalesce(k.rescued, 0), a.oldest
    FROM pgstack.job_queues q
    LEFT JOIN LATERAL (
      SELECT count(*) AS available, min(s.available_at) AS oldest
        FROM pgstack.job_cursors c JOIN pgstack.job_stream s ON s.queue = c.queue AND s.priority = c.priority
       WHERE c.queue = q.name
         AND s.xid >= pg_snapshot_xmin(c.tick_lo) AND NOT pg_visible_in_snapshot(s.xid, c.tick_lo)
         AND ((s.xid, s.id) > (c.pos_xid, c.pos_id) OR NOT pg_visible_in_snapshot(s.xid, c.tick_hi))) a ON true
    LEFT JOIN LATERAL (
      SELECT sum(completed) AS completed, sum(failed) AS failed, sum(rescued) AS rescued
        FROM pgstack.job_counters k WHERE k.queue = q.name) k ON true
   ORDER BY q.name
$$;

-- Jobs of a queue (or all) in a state (or all), newest first, for `pgstack jobs list`;
-- the same columns as pgstack.job(). Completed jobs are not listed: nothing is kept per
-- completed job but its stream row.
CREATE FUNCTION pgstack.list_jobs(p_queue text DEFAULT NULL, p_state text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS TABLE (id bigint, state text, queue text, kind text, args jsonb, priority smallint, attempt integer,
               max_attempts integer, enqueued_at timestamptz, run_at timestamptz, finished_at timestamptz,
               unique_key text, tags text[], errors jsonb, cancel_requested boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
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
-- when p_holder holds the lease named p_name for the next p_seconds, having renewed it
-- or taken it over after it ran out.
CREATE FUNCTION pgstack.try_job_leader(p_name text, p_holder text, p_seconds double precision) RETURNS boolean
LANGUAGE sql AS $$
  INSERT INTO pgstack.job_leaders AS l (name, holder, expires_at)
  VALUES (p_name, p_holder, clock_timestamp() + make_interval(secs => p_seconds))
  ON CONFLICT ON CONSTRAINT job_leaders_pkey DO UPDATE
    SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at < clock_timestamp()
  RETURNING true
$$;

-- True when slot s holds rows and all of them are handed out and finished (see
-- jobs_maintain). Rows of a queue nobody works, or of a paused queue, keep it false.
CREATE FUNCTION pgstack.job_slot_finished(s integer) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_part text := 'job_stream_' || s;
  v_flag boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM pgstack.%I)', v_part) INTO v_flag;
  IF NOT v_flag THEN RETURN false; END IF;        -- empty: nothing to truncate
  -- A row its cursor's older tick does not see is in the batch being handed out, or later.
  EXECUTE format(
    'SELECT EXISTS (SELECT 1 FROM pgstack.job_cursors c WHERE EXISTS (
       SELECT 1 FROM pgstack.%I r WHERE r.queue = c.queue AND r.priority = c.priority
          AND r.xid >= pg_snapshot_xmin(c.tick_lo) AND NOT pg_visible_in_snapshot(r.xid, c.tick_lo)))',
    v_part) INTO v_flag;
  IF v_flag THEN RETURN false; END IF;
  -- A live batch (claimed, not finished) covering a row of this slot.
  EXECUTE format(
    'SELECT EXISTS (SELECT 1 FROM pgstack.job_batches b WHERE EXISTS (
       SELECT 1 FROM pgstack.%I r WHERE r.queue = b.queue AND r.priority = b.priority
          AND (r.xid, r.id) > (b.from_xid, b.from_id) AND (r.xid, r.id) <= (b.to_xid, b.to_id)))',
    v_part) INTO v_flag;
  RETURN NOT v_flag;
END
$$;

-- Housekeeping, run by workers about once a second; one runner at a time (the others
-- return NULL at once). Offers again the jobs of batches whose lease ran out, moves due
-- scheduled jobs into the stream, starts a new epoch on the next partition every
-- rotation_interval, truncates partitions that are all finished, and deletes history
-- past its retention. Returns what it did.
-- SECURITY DEFINER: truncating a partition needs the table owner.
CREATE FUNCTION pgstack.jobs_maintain() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgstack AS $$
DECLARE
  b pgstack.job_batches;
  cur pgstack.job_epochs;
  v_rescued integer := 0;
  v_promoted integer := 0;
  v_rotated boolean := false;
  v_truncated integer[] := '{}';
  v_deleted integer := 0;
  v_xid xid8;
  v_slot smallint;
  v_flag boolean;
  cfg pgstack.job_settings;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('pgstack.jobs_maintain')) THEN RETURN NULL; END IF;
  SELECT * INTO cfg FROM pgstack.job_settings;

  FOR b IN SELECT * FROM pgstack.job_batches WHERE lease_expires_at < now() ORDER BY lease_expires_at
           LIMIT 100 FOR UPDATE SKIP LOCKED LOOP
    DELETE FROM pgstack.job_batches WHERE id = b.id;
    v_rescued := v_rescued + pgstack.job_reoffer(pgstack.job_batch_unfinished(b),
      format('worker %s stopped renewing the lease of batch %s (expired %s)', b.worker, b.id, b.lease_expires_at));
    INSERT INTO pgstack.job_counters AS k (worker, queue, rescued)
    VALUES (b.worker, b.queue, b.job_count - cardinality(b.done_ids))
    ON CONFLICT ON CONSTRAINT job_counters_pkey DO UPDATE SET rescued = k.rescued + EXCLUDED.rescued, updated_at = now();
  END LOOP;

  v_xid := pg_current_xact_id();
  v_slot := pgstack.job_slot(v_xid);
  WITH due AS (
    DELETE FROM pgstack.job_scheduled WHERE id IN (
      SELECT id FROM pgstack.job_scheduled WHERE run_at <= now() ORDER BY run_at LIMIT 50000 FOR UPDATE SKIP LOCKED)
    RETURNING *
  ), moved AS (
    INSERT INTO pgstack.job_stream (id, attempt, xid, slot, queue, priority, kind, args, max_attempts, enqueued_at,
                                    available_at, unique_key, tags, errors)
    SELECT id, attempt, v_xid, v_slot, queue, priority, kind, args, max_attempts, enqueued_at, now(),
           unique_key, tags, errors FROM due
    RETURNING queue
  ), announced AS (
    SELECT pgstack.job_announce(array_agg(queue)) FROM moved
  )
  SELECT (SELECT count(*) FROM moved) INTO v_promoted FROM announced;

  -- A new epoch on the next slot, when the current one is old enough and has rows, and
  -- the next slot is empty (truncated): slots never mix epochs.
  SELECT * INTO cur FROM pgstack.job_epochs ORDER BY epoch DESC LIMIT 1;
  IF cur.started_at < now() - cfg.rotation_interval THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM pgstack.%I) AND NOT EXISTS (SELECT 1 FROM pgstack.%I)',
                   'job_stream_' || cur.slot, 'job_stream_' || (cur.slot + 1) % 3) INTO v_flag;
    IF v_flag THEN
      INSERT INTO pgstack.job_epochs (epoch, slot, start_xid)
      VALUES (cur.epoch + 1, (cur.slot + 1) % 3, pg_snapshot_xmax(pg_current_snapshot()));
      DELETE FROM pgstack.job_epochs WHERE epoch < cur.epoch - 10;
      v_rotated := true;
      cur.slot := (cur.slot + 1) % 3;
    END IF;
  END IF;

  -- An old slot is truncated when every row in it has been handed out and finished:
  -- every cursor's older tick sees all of its queue's rows there (its earlier batches
  -- were handed out in full), and no live batch covers any of them. The checks run
  -- again with the partition locked, so a writer mid-insert has committed (or given
  -- up) and is seen. A transaction that read the epochs before the rotation committed
  -- may write to the slot after the TRUNCATE; its rows are new work and stay.
  FOR s IN 0..2 LOOP
    CONTINUE WHEN s = cur.slot;
    CONTINUE WHEN NOT pgstack.job_slot_finished(s);   -- without the lock first: cheap, usually decisive
    BEGIN
      -- Wait briefly for the lock: claims read every partition, and a queue of
      -- statements behind a waiting TRUNCATE would stall the workers.
      PERFORM set_config('lock_timeout', '50ms', true);
      EXECUTE format('LOCK TABLE pgstack.%I IN ACCESS EXCLUSIVE MODE', 'job_stream_' || s);
      PERFORM set_config('lock_timeout', '0', true);
      IF pgstack.job_slot_finished(s) THEN
        EXECUTE format('TRUNCATE pgstack.%I', 'job_stream_' || s);
        v_truncated := v_truncated || s;
      END IF;
    EXCEPTION WHEN lock_not_available THEN
      NULL;  -- busy; next time
    END;
  END LOOP;

  WITH old AS (
    DELETE FROM pgstack.job_history WHERE id IN (
      SELECT id FROM pgstack.job_history
       WHERE (state = 'discarded' AND finished_at < now() - cfg.discarded_retention)
          OR (state = 'cancelled' AND finished_at < now() - cfg.cancelled_retention)
       LIMIT 10000)
    RETURNING 1)
  SELECT count(*) INTO v_deleted FROM old;
  DELETE FROM pgstack.job_counters WHERE updated_at < now() - cfg.counters_retention;

  RETURN jsonb_build_object('rescued', v_rescued, 'promoted', v_promoted, 'rotated', v_rotated,
                            'truncated_slots', to_jsonb(v_truncated), 'history_deleted', v_deleted);
END
$$;
COMMENT ON FUNCTION pgstack.jobs_maintain() IS 'Job queue housekeeping (rescue, due jobs, truncation, retention); workers call it about once a second';

-- Enqueues the periodic job p_name for the tick p_tick, unless that tick (or a later
-- one) was already enqueued. Returns the job id, or NULL when the tick was taken.
CREATE FUNCTION pgstack.enqueue_periodic(p_name text, p_cron text, p_tick timestamptz, p_kind text,
                                         p_args jsonb DEFAULT '{}', p_queue text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
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

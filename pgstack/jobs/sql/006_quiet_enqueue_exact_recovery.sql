-- Issue 14, items 7 and 8: enqueues that commit in parallel, and exact recovery of a
-- claim or a completion whose reply a server restart lost.
--
-- 1. Enqueueing no longer NOTIFYs unless a worker waits for the queue. A transaction that
--    has sent NOTIFY takes a database-wide lock at commit, held through the commit's WAL
--    flush, so notifying enqueuers committed one at a time (~150/s with fsync on). Now a
--    worker with nothing to do "watches" the queue: it holds a session advisory lock on
--    the queue's key (pgstack.watch_job_queue). An enqueue tries to take that key in
--    shared mode for the rest of its transaction: that fails only while a worker
--    watches, and then (only then) it notifies. A worker can start watching only when no
--    enqueue that did not notify is in flight (its exclusive try fails against their
--    shared holds), and it claims once more after it starts watching, so a job is never
--    left waiting for the poll: either it committed before the watch (the claim sees
--    it), or its enqueuer saw the watch (and notified). Busy workers do not watch, so
--    under load nobody notifies and commits group as for any other write.
-- 2. claim_jobs takes a claim token (a UUID the worker makes). Sent again after a lost
--    reply, the same token returns the batch that claim made, if it committed.
-- 3. jobs_maintain records the batches it rescues (job_batch_losses), so a worker whose
--    completion's reply was lost can ask pgstack.job_batch_status: a batch neither held
--    nor lost was finished, by that completion.
-- 4. job_latest picks a snoozed job's newer row (a snoozed job read as completed).

-- Lets a retried claim find the batch its first try made (see claim_jobs).
ALTER TABLE pgstack.job_batches ADD COLUMN claim_token uuid;
CREATE UNIQUE INDEX job_batches_claim_token ON pgstack.job_batches (claim_token) WHERE claim_token IS NOT NULL;

-- Batches whose lease ran out and whose unfinished jobs were offered again: every other
-- way a batch row goes (complete_batch, release_batch) is its worker's own doing. Rare,
-- and kept as long as counters (job_settings.counters_retention).
CREATE TABLE pgstack.job_batch_losses (
  batch_id bigint PRIMARY KEY,
  worker text NOT NULL,
  queue text NOT NULL,
  lost_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_batch_losses_lost_at ON pgstack.job_batch_losses (lost_at);

-- The advisory lock key of a queue's watch, a 64-bit hash: an application's own bigint
-- advisory locks collide with it only if they hash alike.
CREATE FUNCTION pgstack.job_watch_key(queue text) RETURNS bigint
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT hashtextextended('pgstack.jobs.watch:' || job_watch_key.queue, 0)
$$;

-- Called by a worker with nothing to do, on the session it claims with, before it waits.
-- 'watching': this session now holds the queue's watch; every enqueue into the queue
--   notifies until it calls unwatch_job_queue (or disconnects). Claim once more, then
--   wait for a notification.
-- 'watched': another session watches; a notification will come. Wait for it.
-- 'enqueuing': enqueues that did not notify are still in flight; claim again shortly.
CREATE FUNCTION pgstack.watch_job_queue(queue text) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queue ALIAS FOR $1;
  v_key bigint := pgstack.job_watch_key(p_queue);
BEGIN
  PERFORM pgstack.job_queue_must_exist(p_queue);
  IF pg_try_advisory_lock(v_key) THEN RETURN 'watching'; END IF;
  IF pg_try_advisory_lock_shared(v_key) THEN
    PERFORM pg_advisory_unlock_shared(v_key);
    RETURN 'enqueuing';
  END IF;
  RETURN 'watched';
END
$$;
COMMENT ON FUNCTION pgstack.watch_job_queue(text) IS
  'A worker with nothing to do asks to be notified of new jobs: watching, watched (by another) or enqueuing (claim again soon)';

-- Ends this session's watch of the queue (a busy worker does not need notifications).
-- Returns false when this session was not watching it.
CREATE FUNCTION pgstack.unwatch_job_queue(queue text) RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pg_advisory_unlock(pgstack.job_watch_key(unwatch_job_queue.queue))
$$;

-- Jobs became available in these queues. The enqueuing transaction holds each queue's
-- watch key in shared mode until it ends ("an enqueue is in flight"), unless a worker
-- watches the queue: then it notifies instead. pg_notify drops repeats of one payload
-- within a transaction, so a transaction notifies once per queue at most.
CREATE OR REPLACE FUNCTION pgstack.job_announce(queues text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_queues ALIAS FOR $1;
  v_queue text;
BEGIN
  FOR v_queue IN SELECT DISTINCT q FROM unnest(p_queues) AS q WHERE q IS NOT NULL LOOP
    IF NOT pg_try_advisory_xact_lock_shared(pgstack.job_watch_key(v_queue)) THEN
      PERFORM pg_notify('pgstack_jobs', v_queue);
    END IF;
  END LOOP;
END
$$;

-- What became of a batch this worker claimed: 'held' (it still holds it), 'lost' (its
-- lease ran out and its unfinished jobs were offered again) or 'finished' (completed or
-- released). A worker asks after a completion was refused as not held: 'finished' means
-- an earlier try of that completion committed and only its reply was lost.
CREATE FUNCTION pgstack.job_batch_status(batch bigint, worker text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT CASE
           WHEN EXISTS (SELECT 1 FROM pgstack.job_batches b
                         WHERE b.id = job_batch_status.batch AND b.worker = job_batch_status.worker) THEN 'held'
           WHEN EXISTS (SELECT 1 FROM pgstack.job_batch_losses l WHERE l.batch_id = job_batch_status.batch) THEN 'lost'
           ELSE 'finished'
         END
$$;
COMMENT ON FUNCTION pgstack.job_batch_status(bigint, text) IS
  'What became of a claimed batch: held, lost (lease ran out) or finished (completed or released)';

-- The latest row of each job in ids. A snooze keeps the attempt number, so a snoozed job
-- back in the stream has two rows of one attempt: the later one (by xid) is the job now,
-- not the one it ran from (which made it look completed until it ran again).
CREATE OR REPLACE FUNCTION pgstack.job_latest(ids bigint[]) RETURNS SETOF pgstack.job_stream
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT DISTINCT ON (s.id) s.* FROM pgstack.job_stream s WHERE s.id = ANY (job_latest.ids)
   ORDER BY s.id, s.attempt DESC, s.xid DESC
$$;

-- claim_jobs gains claim_token (a new signature: dropped and made again).
DROP FUNCTION pgstack.claim_jobs(text, text, integer, double precision);

-- Claims up to max_jobs jobs of a queue, highest priority first, as one batch leased to
-- worker for lease_seconds. Returns nothing when the queue is paused, empty, or at
-- its concurrency limit. claim_token (optional, a fresh UUID per claim): a claim sent
-- again with the same token returns the batch the first one made, if that committed.
-- (How the chunk is cut: 005_access.sql and pgstack/jobs/README.md.)
CREATE FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer DEFAULT 100, lease_seconds double precision DEFAULT 60,
                                   claim_token uuid DEFAULT NULL)
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
  p_token ALIAS FOR $5;
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
  v_made pgstack.job_batches;   -- the batch an earlier try of this claim made
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
  -- A claim sent again with its token (its reply was lost) gets the batch it made, if
  -- it committed, with a fresh lease: nothing is stranded until the lease runs out.
  IF p_token IS NOT NULL THEN
    SELECT * INTO v_made FROM pgstack.job_batches x WHERE x.claim_token = p_token FOR UPDATE;
    IF FOUND THEN
      IF v_made.worker <> p_worker OR v_made.queue <> p_queue THEN
        RAISE EXCEPTION 'claim token % was used by worker % on queue %', p_token, quote_literal(v_made.worker), quote_literal(v_made.queue)
          USING ERRCODE = '22023', HINT = 'Use a new random token (a UUID) for every claim; send one again only to retry that claim.';
      END IF;
      UPDATE pgstack.job_batches SET lease_expires_at = now() + make_interval(secs => p_lease_seconds) WHERE id = v_made.id;
      v_any_cancel := EXISTS (SELECT 1 FROM pgstack.job_cancellations);
      RETURN QUERY
        SELECT v_made.id, r.id, r.attempt, r.kind, r.args, r.queue, r.priority, r.max_attempts, r.enqueued_at,
               r.available_at, r.unique_key, r.tags, r.errors,
               v_any_cancel AND EXISTS (SELECT 1 FROM pgstack.job_cancellations x WHERE x.job_id = r.id)
          FROM pgstack.job_batch_rows(v_made) r
         WHERE NOT (r.id = ANY (v_made.done_ids))
         ORDER BY r.xid, r.id;
      RETURN;
    END IF;
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
                                     job_count, unique_ids, lease_expires_at, claim_token)
    SELECT p_queue, v_priority, p_worker, c.tick_lo, c.tick_hi, c.pos_xid, c.pos_id, v_last.xid, v_last.id,
           cardinality(v_rows), coalesce(array_agg(r.id) FILTER (WHERE r.unique_key IS NOT NULL), '{}'),
           now() + make_interval(secs => p_lease_seconds), p_token
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
COMMENT ON FUNCTION pgstack.claim_jobs(text, text, integer, double precision, uuid) IS
  'Claims up to max_jobs jobs of a queue as one leased batch (highest priority first); a retry with the same claim_token returns that batch';

CREATE OR REPLACE FUNCTION pgstack.jobs_maintain() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
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
    INSERT INTO pgstack.job_batch_losses (batch_id, worker, queue) VALUES (b.id, b.worker, b.queue)
    ON CONFLICT ON CONSTRAINT job_batch_losses_pkey DO NOTHING;
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
  DELETE FROM pgstack.job_batch_losses WHERE lost_at < now() - cfg.counters_retention;

  RETURN jsonb_build_object('rescued', v_rescued, 'promoted', v_promoted, 'rotated', v_rotated,
                            'truncated_slots', to_jsonb(v_truncated), 'history_deleted', v_deleted);
END
$$;
COMMENT ON FUNCTION pgstack.jobs_maintain() IS 'Job queue housekeeping (rescue, due jobs, truncation, retention); workers call it about once a second';

REVOKE ALL ON FUNCTION pgstack.job_watch_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.watch_job_queue(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.unwatch_job_queue(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.job_batch_status(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.claim_jobs(text, text, integer, double precision, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  pgstack.watch_job_queue(text),
  pgstack.unwatch_job_queue(text),
  pgstack.claim_jobs(text, text, integer, double precision, uuid)
  TO readwrite;
GRANT EXECUTE ON FUNCTION
  pgstack.job_watch_key(text),
  pgstack.job_batch_status(bigint, text)
  TO readwrite, readonly;

REVOKE ALL ON pgstack.job_batch_losses FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.job_batch_losses TO readwrite, readonly;

-- Issue 15, item 3: the job queue's functions follow the SQL naming rule
-- (docs/architecture.md, "SQL names"): <capability>_<verb>[_<object>], job_* like job_state,
-- job_queue_stats and job_batch_status. Each function is renamed (so it keeps its body,
-- privileges, settings and comment); the functions that call or name another renamed
-- one are then replaced with their current definition naming the new functions.
-- The old names stay for one release as thin deprecated wrappers with the same
-- signature, defaults and grants. try_job_leader is left as it is (other open work).

-- 1. The renames.
ALTER FUNCTION pgstack.enqueue(kind text, args jsonb, queue text, priority integer, run_at timestamp with time zone, max_attempts integer, unique_key text, tags text[], unique_while text) RENAME TO job_enqueue;
ALTER FUNCTION pgstack.enqueue_many(kinds text[], args jsonb[], queues text[], priorities integer[], run_at timestamp with time zone[], max_attempts integer[], unique_keys text[], tags text[], unique_while text) RENAME TO job_enqueue_many;
ALTER FUNCTION pgstack.enqueue_periodic(name text, cron text, tick timestamp with time zone, kind text, args jsonb, queue text) RENAME TO job_enqueue_periodic;
ALTER FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer, lease_seconds double precision, claim_token uuid) RENAME TO job_claim;
ALTER FUNCTION pgstack.cancel_job(job_id bigint) RENAME TO job_cancel;
ALTER FUNCTION pgstack.retry_job(job_id bigint) RENAME TO job_retry;
ALTER FUNCTION pgstack.list_jobs(queue_name text, state_name text, max_rows integer) RENAME TO job_list;
ALTER FUNCTION pgstack.create_job_queue(name text, concurrency_limit integer) RENAME TO job_queue_create;
ALTER FUNCTION pgstack.pause_job_queue(queue text) RENAME TO job_queue_pause;
ALTER FUNCTION pgstack.resume_job_queue(queue text) RENAME TO job_queue_resume;
ALTER FUNCTION pgstack.set_job_queue_limit(queue text, concurrency_limit integer) RENAME TO job_queue_set_limit;
ALTER FUNCTION pgstack.watch_job_queue(queue text) RENAME TO job_queue_watch;
ALTER FUNCTION pgstack.unwatch_job_queue(queue text) RENAME TO job_queue_unwatch;
ALTER FUNCTION pgstack.register_job_kind(kind text, queue text, max_attempts integer, priority integer) RENAME TO job_kind_register;
ALTER FUNCTION pgstack.complete_batch(batch bigint, worker text, outcomes jsonb) RENAME TO job_batch_complete;
ALTER FUNCTION pgstack.checkpoint_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb, lease_seconds double precision) RENAME TO job_batch_checkpoint;
ALTER FUNCTION pgstack.heartbeat_batches(worker text, batches bigint[], lease_seconds double precision) RENAME TO job_batch_heartbeat;
ALTER FUNCTION pgstack.release_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb) RENAME TO job_batch_release;

-- 2. The functions whose bodies name a renamed function (calls, hints, messages, and the
--    function-qualified parameters of plpgsql bodies, which a rename breaks), as defined
--    until now but for the new names.
CREATE OR REPLACE FUNCTION pgstack.job_batch_checkpoint(batch bigint, worker text, succeeded bigint[], outcomes jsonb DEFAULT '[]'::jsonb, lease_seconds double precision DEFAULT 60)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
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
    RAISE EXCEPTION 'job_batch_checkpoint: invalid lease of % seconds', p_lease_seconds USING ERRCODE = '22023',
      HINT = 'A lease is 1 to 86400 seconds.';
  END IF;
  UPDATE pgstack.job_batches
     SET done_ids = done_ids || pgstack.job_record_outcomes(b, coalesce(p_succeeded, '{}'), p_outcomes),
         lease_expires_at = now() + make_interval(secs => p_lease_seconds)
   WHERE id = b.id;
END
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_claim(queue text, worker text, max_jobs integer DEFAULT 100, lease_seconds double precision DEFAULT 60, claim_token uuid DEFAULT NULL::uuid)
 RETURNS SETOF pgstack.claimed_job
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET enable_sort TO 'off'
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
 SET jit TO 'off'
AS $function$
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
    RAISE EXCEPTION 'job_claim: invalid limit %', p_limit USING ERRCODE = '22023', HINT = 'Claim between 1 and 10000 jobs at a time.';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'job_claim: invalid lease of % seconds', p_lease_seconds USING ERRCODE = '22023', HINT = 'A lease is 1 to 86400 seconds.';
  END IF;
  IF p_worker IS NULL OR length(p_worker) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'job_claim: invalid worker name' USING ERRCODE = '22023', HINT = 'Name the worker with 1 to 200 characters.';
  END IF;
  SELECT * INTO q FROM pgstack.job_queues WHERE name = p_queue;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown job queue %', coalesce(quote_literal(p_queue), 'NULL')
      USING ERRCODE = '42704', HINT = format('Create it first: SELECT pgstack.job_queue_create(%L);', p_queue);
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
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_queue_create(name text, concurrency_limit integer DEFAULT NULL::integer)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
#variable_conflict use_column
BEGIN
  PERFORM pgstack.job_check_queue_name(job_queue_create.name);
  IF job_queue_create.concurrency_limit IS NOT NULL AND job_queue_create.concurrency_limit < 1 THEN
    RAISE EXCEPTION 'invalid concurrency limit % for job queue %', job_queue_create.concurrency_limit, job_queue_create.name
      USING ERRCODE = '22023', HINT = 'Give a limit of 1 or more, or NULL for no limit.';
  END IF;
  INSERT INTO pgstack.job_queues AS q (name, concurrency_limit)
  VALUES (job_queue_create.name, job_queue_create.concurrency_limit)
  ON CONFLICT ON CONSTRAINT job_queues_pkey DO UPDATE
    SET concurrency_limit = coalesce(EXCLUDED.concurrency_limit, q.concurrency_limit)
    WHERE job_queue_create.concurrency_limit IS NOT NULL;
END
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_enqueue(kind text, args jsonb DEFAULT '{}'::jsonb, queue text DEFAULT NULL::text, priority integer DEFAULT NULL::integer, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, max_attempts integer DEFAULT NULL::integer, unique_key text DEFAULT NULL::text, tags text[] DEFAULT '{}'::text[], unique_while text DEFAULT 'active'::text)
 RETURNS TABLE(id bigint, duplicate boolean)
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
  SELECT * FROM pgstack.job_enqueue_many(ARRAY[kind], ARRAY[args], ARRAY[queue], ARRAY[priority], ARRAY[run_at],
                                     ARRAY[max_attempts], ARRAY[unique_key], tags, unique_while)
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_enqueue_many(kinds text[], args jsonb[], queues text[] DEFAULT NULL::text[], priorities integer[] DEFAULT NULL::integer[], run_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], max_attempts integer[] DEFAULT NULL::integer[], unique_keys text[] DEFAULT NULL::text[], tags text[] DEFAULT '{}'::text[], unique_while text DEFAULT 'active'::text)
 RETURNS TABLE(id bigint, duplicate boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
#variable_conflict use_column
DECLARE
  n integer := coalesce(cardinality(kinds), 0);
  v_bad record;
  v_ids bigint[];
  v_dups bigint[];
  v_xid xid8;
  v_slot smallint;
  v_now timestamptz := clock_timestamp();
BEGIN
  IF n = 0 THEN RETURN; END IF;
  IF cardinality(args) IS DISTINCT FROM n
     OR (queues IS NOT NULL AND cardinality(queues) <> n)
     OR (priorities IS NOT NULL AND cardinality(priorities) <> n)
     OR (run_at IS NOT NULL AND cardinality(run_at) <> n)
     OR (max_attempts IS NOT NULL AND cardinality(max_attempts) <> n)
     OR (unique_keys IS NOT NULL AND cardinality(unique_keys) <> n) THEN
    RAISE EXCEPTION 'job_enqueue_many: the arrays differ in length (% kinds, % args)', n, coalesce(cardinality(args), 0)
      USING ERRCODE = '22023', HINT = 'Pass one element per job in every array given (or NULL for an array to take the defaults).';
  END IF;
  IF job_enqueue_many.unique_while IS NULL OR job_enqueue_many.unique_while NOT IN ('active', 'pending') THEN
    RAISE EXCEPTION 'invalid unique_while %', coalesce(quote_literal(job_enqueue_many.unique_while), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'active: the key is held until the job ends; pending: only until it starts running.';
  END IF;
  IF cardinality(job_enqueue_many.tags) > 32 OR EXISTS (SELECT 1 FROM unnest(job_enqueue_many.tags) t WHERE t IS NULL OR length(t) NOT BETWEEN 1 AND 64) THEN
    RAISE EXCEPTION 'invalid job tags %', job_enqueue_many.tags
      USING ERRCODE = '22023', HINT = 'Give at most 32 tags of 1 to 64 characters each.';
  END IF;

  -- Validate every element before writing anything; report the first bad one. Kinds
  -- and queues are checked once per distinct value, the rest only when given.
  SELECT i.n AS pos, i.kind, k.kind IS NULL AS unknown_kind, i.args, coalesce(i.queue, k.queue) AS queue,
         q.name IS NULL AS unknown_queue, i.priority, i.max_attempts, i.unique_key
    INTO v_bad
    FROM (SELECT DISTINCT ON (d.kind, d.queue) d.kind, d.queue, d.n
            FROM unnest(kinds, queues) WITH ORDINALITY AS d (kind, queue, n) ORDER BY d.kind, d.queue, d.n) dk
    LEFT JOIN pgstack.job_kinds k ON k.kind = dk.kind
    LEFT JOIN pgstack.job_queues q ON q.name = coalesce(dk.queue, k.queue)
    CROSS JOIN LATERAL (SELECT dk.n, dk.kind, NULL::jsonb AS args, dk.queue, NULL::integer AS priority,
                               NULL::integer AS max_attempts, NULL::text AS unique_key) i
   WHERE k.kind IS NULL OR q.name IS NULL
   ORDER BY i.n LIMIT 1;
  IF NOT FOUND AND (priorities IS NOT NULL OR max_attempts IS NOT NULL OR unique_keys IS NOT NULL
                    OR array_position(args, NULL) IS NOT NULL OR array_position(args, 'null'::jsonb) IS NOT NULL) THEN
    SELECT i.n AS pos, i.kind, false AS unknown_kind, i.args, i.queue, false AS unknown_queue,
           i.priority, i.max_attempts, i.unique_key
      INTO v_bad
      FROM unnest(kinds, args, queues, priorities, max_attempts, unique_keys)
           WITH ORDINALITY AS i (kind, args, queue, priority, max_attempts, unique_key, n)
     WHERE i.args IS NULL OR jsonb_typeof(i.args) = 'null'
        OR i.priority NOT BETWEEN 0 AND 9 OR i.max_attempts NOT BETWEEN 1 AND 1000
        OR length(i.unique_key) NOT BETWEEN 1 AND 512
     ORDER BY i.n LIMIT 1;
  END IF;
  IF FOUND THEN
    IF v_bad.kind IS NULL OR v_bad.unknown_kind THEN
      RAISE EXCEPTION 'unknown job kind % (job % of %)', coalesce(quote_literal(v_bad.kind), 'NULL'), v_bad.pos, n
        USING ERRCODE = '42704',
              HINT = 'Register it first: SELECT pgstack.job_kind_register(''<kind>''); a Worker registers the kinds it has handlers for when it starts.';
    ELSIF v_bad.unknown_queue THEN
      RAISE EXCEPTION 'unknown job queue % (job % of %)', quote_literal(v_bad.queue), v_bad.pos, n
        USING ERRCODE = '42704', HINT = format('Create it first: SELECT pgstack.job_queue_create(%L);', v_bad.queue);
    ELSIF v_bad.args IS NULL OR jsonb_typeof(v_bad.args) = 'null' THEN
      RAISE EXCEPTION 'job % of % (kind %) has no args', v_bad.pos, n, v_bad.kind
        USING ERRCODE = '22023', HINT = 'Pass a JSON value, e.g. ''{}''::jsonb for a job without arguments.';
    ELSIF v_bad.priority NOT BETWEEN 0 AND 9 THEN
      RAISE EXCEPTION 'invalid priority % (job % of %)', v_bad.priority, v_bad.pos, n
        USING ERRCODE = '22023', HINT = 'Priorities go from 0 (runs first) to 9.';
    ELSIF v_bad.max_attempts NOT BETWEEN 1 AND 1000 THEN
      RAISE EXCEPTION 'invalid max_attempts % (job % of %)', v_bad.max_attempts, v_bad.pos, n
        USING ERRCODE = '22023', HINT = 'max_attempts is between 1 and 1000.';
    ELSE
      RAISE EXCEPTION 'invalid unique key of % characters (job % of %)', length(v_bad.unique_key), v_bad.pos, n
        USING ERRCODE = '22023', HINT = 'A unique key is 1 to 512 characters.';
    END IF;
  END IF;

  v_ids := ARRAY(SELECT nextval('pgstack.job_id_seq') FROM generate_series(1, n));

  -- Unique keys first, in statements of their own: ON CONFLICT waits for a concurrent
  -- enqueuer of the same key to finish, and the next statement's snapshot then sees the
  -- key it committed.
  IF unique_keys IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(unique_keys) u WHERE u IS NOT NULL) THEN
    INSERT INTO pgstack.job_unique_keys (queue, unique_key, job_id, release_at_start)
    SELECT coalesce(i.queue, k.queue), i.unique_key, i.id, job_enqueue_many.unique_while = 'pending'
      FROM unnest(kinds, queues, unique_keys, v_ids) AS i (kind, queue, unique_key, id)
      JOIN pgstack.job_kinds k ON k.kind = i.kind
     WHERE i.unique_key IS NOT NULL
    ON CONFLICT DO NOTHING;
    v_dups := ARRAY(
      SELECT CASE WHEN u.job_id <> i.id THEN u.job_id END
        FROM unnest(kinds, queues, unique_keys, v_ids) WITH ORDINALITY AS i (kind, queue, unique_key, id, n)
        JOIN pgstack.job_kinds k ON k.kind = i.kind
        LEFT JOIN pgstack.job_unique_keys u ON u.queue = coalesce(i.queue, k.queue) AND u.unique_key = i.unique_key
       ORDER BY i.n);
  END IF;

  v_xid := pg_current_xact_id();
  v_slot := pgstack.job_slot(v_xid);
  WITH input AS (
    SELECT i.id, i.n, i.kind, i.args, coalesce(i.queue, k.queue) AS queue,
           coalesce(i.priority, k.priority)::smallint AS priority, i.run_at,
           coalesce(i.max_attempts, k.max_attempts) AS max_attempts, i.unique_key
      FROM unnest(v_ids, kinds, args, queues, priorities, run_at, max_attempts, unique_keys)
           WITH ORDINALITY AS i (id, kind, args, queue, priority, run_at, max_attempts, unique_key, n)
      JOIN pgstack.job_kinds k ON k.kind = i.kind
     WHERE v_dups IS NULL OR v_dups[i.n] IS NULL
  ), now_ready AS (
    INSERT INTO pgstack.job_stream (id, attempt, xid, slot, queue, priority, kind, args, max_attempts,
                                    enqueued_at, available_at, unique_key, tags)
    SELECT i.id, 1, v_xid, v_slot, i.queue, i.priority, i.kind, i.args, i.max_attempts,
           v_now, v_now, i.unique_key, job_enqueue_many.tags
      FROM input i WHERE i.run_at IS NULL OR i.run_at <= v_now
    RETURNING 1
  )
  INSERT INTO pgstack.job_scheduled (id, attempt, queue, priority, kind, args, max_attempts, run_at,
                                     enqueued_at, unique_key, tags)
  SELECT i.id, 1, i.queue, i.priority, i.kind, i.args, i.max_attempts, i.run_at, v_now, i.unique_key, job_enqueue_many.tags
    FROM input i WHERE i.run_at > v_now;

  PERFORM pgstack.job_announce(ARRAY(
     SELECT DISTINCT coalesce(i.queue, k.queue)
       FROM unnest(kinds, queues, run_at) WITH ORDINALITY AS i (kind, queue, run_at, n)
       JOIN pgstack.job_kinds k ON k.kind = i.kind
      WHERE (i.run_at IS NULL OR i.run_at <= v_now) AND (v_dups IS NULL OR v_dups[i.n] IS NULL)));

  RETURN QUERY
    SELECT coalesce(d.dup, i.id), d.dup IS NOT NULL
      FROM unnest(v_ids) WITH ORDINALITY AS i (id, n)
      LEFT JOIN unnest(v_dups) WITH ORDINALITY AS d (dup, n) ON d.n = i.n
     ORDER BY i.n;
END
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_enqueue_periodic(name text, cron text, tick timestamp with time zone, kind text, args jsonb DEFAULT '{}'::jsonb, queue text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
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
    FROM pgstack.job_enqueue(p_kind,
                         CASE WHEN jsonb_typeof(p_args) = 'object' THEN p_args || jsonb_build_object('periodic_tick', p_tick)
                              ELSE p_args END,
                         p_queue, tags => ARRAY['periodic:' || left(p_name, 55)]);
  RETURN v_id;
END
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_batch_heartbeat(worker text, batches bigint[], lease_seconds double precision DEFAULT 60)
 RETURNS TABLE(batch_id bigint, held boolean, cancel_ids bigint[])
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
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
    RAISE EXCEPTION 'job_batch_heartbeat: invalid lease of % seconds', p_lease_seconds USING ERRCODE = '22023';
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
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_held_batch(batch bigint, worker text)
 RETURNS pgstack.job_batches
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
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
            HINT = 'Heartbeat batches more often than their lease (pgstack.job_batch_heartbeat); the results of its jobs were not recorded.';
  END IF;
  RETURN b;
END
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_kind_register(kind text, queue text DEFAULT NULL::text, max_attempts integer DEFAULT NULL::integer, priority integer DEFAULT NULL::integer)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
#variable_conflict use_column
BEGIN
  IF job_kind_register.kind IS NULL OR job_kind_register.kind !~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$' THEN
    RAISE EXCEPTION 'invalid job kind %', coalesce(quote_literal(job_kind_register.kind), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'A kind is 1 to 128 characters: letters, digits and "_", ".", ":", "/", "-", starting with a letter, digit or "_".';
  END IF;
  IF job_kind_register.queue IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pgstack.job_queues q WHERE q.name = job_kind_register.queue) THEN
    RAISE EXCEPTION 'unknown job queue %', quote_literal(job_kind_register.queue)
      USING ERRCODE = '42704', HINT = format('Create it first: SELECT pgstack.job_queue_create(%L);', job_kind_register.queue);
  END IF;
  IF job_kind_register.max_attempts IS NOT NULL AND job_kind_register.max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'invalid max_attempts % for job kind %', job_kind_register.max_attempts, job_kind_register.kind
      USING ERRCODE = '22023', HINT = 'max_attempts is between 1 and 1000.';
  END IF;
  IF job_kind_register.priority IS NOT NULL AND job_kind_register.priority NOT BETWEEN 0 AND 9 THEN
    RAISE EXCEPTION 'invalid priority % for job kind %', job_kind_register.priority, job_kind_register.kind
      USING ERRCODE = '22023', HINT = 'Priorities go from 0 (runs first) to 9.';
  END IF;
  INSERT INTO pgstack.job_kinds AS k (kind, queue, max_attempts, priority)
  VALUES (job_kind_register.kind, coalesce(job_kind_register.queue, 'default'),
          coalesce(job_kind_register.max_attempts, 25), coalesce(job_kind_register.priority, 0))
  ON CONFLICT ON CONSTRAINT job_kinds_pkey DO UPDATE
    SET queue = coalesce(job_kind_register.queue, k.queue),
        max_attempts = coalesce(job_kind_register.max_attempts, k.max_attempts),
        priority = coalesce(job_kind_register.priority, k.priority);
END
$function$;

CREATE OR REPLACE FUNCTION pgstack.job_queue_unwatch(queue text)
 RETURNS boolean
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pgstack', 'pg_temp'
AS $function$
  SELECT pg_advisory_unlock(pgstack.job_watch_key(job_queue_unwatch.queue))
$function$;

-- 3. The old names, deprecated: same signature, defaults and grants, calling the new one.
CREATE FUNCTION pgstack.enqueue(kind text, args jsonb DEFAULT '{}'::jsonb, queue text DEFAULT NULL::text, priority integer DEFAULT NULL::integer, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, max_attempts integer DEFAULT NULL::integer, unique_key text DEFAULT NULL::text, tags text[] DEFAULT '{}'::text[], unique_while text DEFAULT 'active'::text)
RETURNS TABLE(id bigint, duplicate boolean)
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT * FROM pgstack.job_enqueue($1, $2, $3, $4, $5, $6, $7, $8, $9) $$;
COMMENT ON FUNCTION pgstack.enqueue(kind text, args jsonb, queue text, priority integer, run_at timestamp with time zone, max_attempts integer, unique_key text, tags text[], unique_while text) IS 'deprecated: use pgstack.job_enqueue; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.enqueue(kind text, args jsonb, queue text, priority integer, run_at timestamp with time zone, max_attempts integer, unique_key text, tags text[], unique_while text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.enqueue(kind text, args jsonb, queue text, priority integer, run_at timestamp with time zone, max_attempts integer, unique_key text, tags text[], unique_while text) TO readwrite;

CREATE FUNCTION pgstack.enqueue_many(kinds text[], args jsonb[], queues text[] DEFAULT NULL::text[], priorities integer[] DEFAULT NULL::integer[], run_at timestamp with time zone[] DEFAULT NULL::timestamp with time zone[], max_attempts integer[] DEFAULT NULL::integer[], unique_keys text[] DEFAULT NULL::text[], tags text[] DEFAULT '{}'::text[], unique_while text DEFAULT 'active'::text)
RETURNS TABLE(id bigint, duplicate boolean)
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT * FROM pgstack.job_enqueue_many($1, $2, $3, $4, $5, $6, $7, $8, $9) $$;
COMMENT ON FUNCTION pgstack.enqueue_many(kinds text[], args jsonb[], queues text[], priorities integer[], run_at timestamp with time zone[], max_attempts integer[], unique_keys text[], tags text[], unique_while text) IS 'deprecated: use pgstack.job_enqueue_many; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.enqueue_many(kinds text[], args jsonb[], queues text[], priorities integer[], run_at timestamp with time zone[], max_attempts integer[], unique_keys text[], tags text[], unique_while text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.enqueue_many(kinds text[], args jsonb[], queues text[], priorities integer[], run_at timestamp with time zone[], max_attempts integer[], unique_keys text[], tags text[], unique_while text) TO readwrite;

CREATE FUNCTION pgstack.enqueue_periodic(name text, cron text, tick timestamp with time zone, kind text, args jsonb DEFAULT '{}'::jsonb, queue text DEFAULT NULL::text)
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_enqueue_periodic($1, $2, $3, $4, $5, $6) $$;
COMMENT ON FUNCTION pgstack.enqueue_periodic(name text, cron text, tick timestamp with time zone, kind text, args jsonb, queue text) IS 'deprecated: use pgstack.job_enqueue_periodic; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.enqueue_periodic(name text, cron text, tick timestamp with time zone, kind text, args jsonb, queue text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.enqueue_periodic(name text, cron text, tick timestamp with time zone, kind text, args jsonb, queue text) TO readwrite;

CREATE FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer DEFAULT 100, lease_seconds double precision DEFAULT 60, claim_token uuid DEFAULT NULL::uuid)
RETURNS SETOF pgstack.claimed_job
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT * FROM pgstack.job_claim($1, $2, $3, $4, $5) $$;
COMMENT ON FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer, lease_seconds double precision, claim_token uuid) IS 'deprecated: use pgstack.job_claim; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer, lease_seconds double precision, claim_token uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.claim_jobs(queue text, worker text, max_jobs integer, lease_seconds double precision, claim_token uuid) TO readwrite;

CREATE FUNCTION pgstack.cancel_job(job_id bigint)
RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_cancel($1) $$;
COMMENT ON FUNCTION pgstack.cancel_job(job_id bigint) IS 'deprecated: use pgstack.job_cancel; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.cancel_job(job_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.cancel_job(job_id bigint) TO readwrite;

CREATE FUNCTION pgstack.retry_job(job_id bigint)
RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_retry($1) $$;
COMMENT ON FUNCTION pgstack.retry_job(job_id bigint) IS 'deprecated: use pgstack.job_retry; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.retry_job(job_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.retry_job(job_id bigint) TO readwrite;

CREATE FUNCTION pgstack.list_jobs(queue_name text DEFAULT NULL::text, state_name text DEFAULT NULL::text, max_rows integer DEFAULT 50)
RETURNS TABLE(id bigint, state text, queue text, kind text, args jsonb, priority smallint, attempt integer, max_attempts integer, enqueued_at timestamp with time zone, run_at timestamp with time zone, finished_at timestamp with time zone, unique_key text, tags text[], errors jsonb, cancel_requested boolean)
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT * FROM pgstack.job_list($1, $2, $3) $$;
COMMENT ON FUNCTION pgstack.list_jobs(queue_name text, state_name text, max_rows integer) IS 'deprecated: use pgstack.job_list; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.list_jobs(queue_name text, state_name text, max_rows integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.list_jobs(queue_name text, state_name text, max_rows integer) TO readonly, readwrite;

CREATE FUNCTION pgstack.create_job_queue(name text, concurrency_limit integer DEFAULT NULL::integer)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_queue_create($1, $2) $$;
COMMENT ON FUNCTION pgstack.create_job_queue(name text, concurrency_limit integer) IS 'deprecated: use pgstack.job_queue_create; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.create_job_queue(name text, concurrency_limit integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.create_job_queue(name text, concurrency_limit integer) TO readwrite;

CREATE FUNCTION pgstack.pause_job_queue(queue text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_queue_pause($1) $$;
COMMENT ON FUNCTION pgstack.pause_job_queue(queue text) IS 'deprecated: use pgstack.job_queue_pause; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.pause_job_queue(queue text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.pause_job_queue(queue text) TO readwrite;

CREATE FUNCTION pgstack.resume_job_queue(queue text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_queue_resume($1) $$;
COMMENT ON FUNCTION pgstack.resume_job_queue(queue text) IS 'deprecated: use pgstack.job_queue_resume; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.resume_job_queue(queue text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.resume_job_queue(queue text) TO readwrite;

CREATE FUNCTION pgstack.set_job_queue_limit(queue text, concurrency_limit integer)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_queue_set_limit($1, $2) $$;
COMMENT ON FUNCTION pgstack.set_job_queue_limit(queue text, concurrency_limit integer) IS 'deprecated: use pgstack.job_queue_set_limit; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.set_job_queue_limit(queue text, concurrency_limit integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.set_job_queue_limit(queue text, concurrency_limit integer) TO readwrite;

CREATE FUNCTION pgstack.watch_job_queue(queue text)
RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_queue_watch($1) $$;
COMMENT ON FUNCTION pgstack.watch_job_queue(queue text) IS 'deprecated: use pgstack.job_queue_watch; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.watch_job_queue(queue text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.watch_job_queue(queue text) TO readwrite;

CREATE FUNCTION pgstack.unwatch_job_queue(queue text)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_queue_unwatch($1) $$;
COMMENT ON FUNCTION pgstack.unwatch_job_queue(queue text) IS 'deprecated: use pgstack.job_queue_unwatch; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.unwatch_job_queue(queue text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.unwatch_job_queue(queue text) TO readwrite;

CREATE FUNCTION pgstack.register_job_kind(kind text, queue text DEFAULT NULL::text, max_attempts integer DEFAULT NULL::integer, priority integer DEFAULT NULL::integer)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_kind_register($1, $2, $3, $4) $$;
COMMENT ON FUNCTION pgstack.register_job_kind(kind text, queue text, max_attempts integer, priority integer) IS 'deprecated: use pgstack.job_kind_register; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.register_job_kind(kind text, queue text, max_attempts integer, priority integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.register_job_kind(kind text, queue text, max_attempts integer, priority integer) TO readwrite;

CREATE FUNCTION pgstack.complete_batch(batch bigint, worker text, outcomes jsonb DEFAULT '[]'::jsonb)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_batch_complete($1, $2, $3) $$;
COMMENT ON FUNCTION pgstack.complete_batch(batch bigint, worker text, outcomes jsonb) IS 'deprecated: use pgstack.job_batch_complete; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.complete_batch(batch bigint, worker text, outcomes jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.complete_batch(batch bigint, worker text, outcomes jsonb) TO readwrite;

CREATE FUNCTION pgstack.checkpoint_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb DEFAULT '[]'::jsonb, lease_seconds double precision DEFAULT 60)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_batch_checkpoint($1, $2, $3, $4, $5) $$;
COMMENT ON FUNCTION pgstack.checkpoint_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb, lease_seconds double precision) IS 'deprecated: use pgstack.job_batch_checkpoint; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.checkpoint_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb, lease_seconds double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.checkpoint_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb, lease_seconds double precision) TO readwrite;

CREATE FUNCTION pgstack.heartbeat_batches(worker text, batches bigint[], lease_seconds double precision DEFAULT 60)
RETURNS TABLE(batch_id bigint, held boolean, cancel_ids bigint[])
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT * FROM pgstack.job_batch_heartbeat($1, $2, $3) $$;
COMMENT ON FUNCTION pgstack.heartbeat_batches(worker text, batches bigint[], lease_seconds double precision) IS 'deprecated: use pgstack.job_batch_heartbeat; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.heartbeat_batches(worker text, batches bigint[], lease_seconds double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.heartbeat_batches(worker text, batches bigint[], lease_seconds double precision) TO readwrite;

CREATE FUNCTION pgstack.release_batch(batch bigint, worker text, succeeded bigint[] DEFAULT '{}'::bigint[], outcomes jsonb DEFAULT '[]'::jsonb)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$ SELECT pgstack.job_batch_release($1, $2, $3, $4) $$;
COMMENT ON FUNCTION pgstack.release_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb) IS 'deprecated: use pgstack.job_batch_release; removed in 0.2';
REVOKE ALL ON FUNCTION pgstack.release_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.release_batch(batch bigint, worker text, succeeded bigint[], outcomes jsonb) TO readwrite;

-- 4. Internal helpers the application roles were granted but call only through the
--    SECURITY DEFINER functions above (which run them as the owner): no longer theirs to
--    run (issue 15, item 3; docs/architecture.md, "SQL names").
REVOKE EXECUTE ON FUNCTION
  pgstack.job_check_queue_name(text),
  pgstack.job_slot(xid8),
  pgstack.job_slot_finished(integer),
  pgstack.job_state_or_error(bigint),
  pgstack.job_announce(text[])
  FROM readwrite, readonly;

-- Enqueueing: pgstack.enqueue (one job) and pgstack.enqueue_many (arrays, one call for
-- 100k jobs), queue and kind registration. Everything runs in the caller's transaction:
-- the job and the caller's business rows commit or roll back together.

-- The partition a row written by transaction x goes to: the slot of the epoch x falls
-- in. A transaction whose snapshot predates the newest epoch may pick the previous
-- slot; jobs_maintain checks for such rows before it truncates a slot.
CREATE FUNCTION pgstack.job_slot(x xid8) RETURNS smallint
LANGUAGE sql STABLE AS $$
  SELECT e.slot FROM pgstack.job_epochs e WHERE e.start_xid <= x ORDER BY e.epoch DESC LIMIT 1
$$;

-- Errors name what failed, why, and what to do; they are raised before anything is
-- written, so a bad call changes nothing.
CREATE FUNCTION pgstack.job_check_queue_name(p_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_name IS NULL OR p_name !~ '^[a-z0-9_][a-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid job queue name %', coalesce(quote_literal(p_name), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'A queue name is 1 to 63 characters: lower-case letters, digits, "_", "." and "-", starting with a letter, digit or "_".';
  END IF;
END
$$;

CREATE FUNCTION pgstack.create_job_queue(name text, concurrency_limit integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM pgstack.job_check_queue_name(create_job_queue.name);
  IF create_job_queue.concurrency_limit IS NOT NULL AND create_job_queue.concurrency_limit < 1 THEN
    RAISE EXCEPTION 'invalid concurrency limit % for job queue %', create_job_queue.concurrency_limit, create_job_queue.name
      USING ERRCODE = '22023', HINT = 'Give a limit of 1 or more, or NULL for no limit.';
  END IF;
  INSERT INTO pgstack.job_queues AS q (name, concurrency_limit)
  VALUES (create_job_queue.name, create_job_queue.concurrency_limit)
  ON CONFLICT ON CONSTRAINT job_queues_pkey DO UPDATE
    SET concurrency_limit = coalesce(EXCLUDED.concurrency_limit, q.concurrency_limit)
    WHERE create_job_queue.concurrency_limit IS NOT NULL;
END
$$;
COMMENT ON FUNCTION pgstack.create_job_queue(text, integer) IS 'Creates a job queue (no-op when it exists; sets its concurrency limit when one is given)';

-- Registers a kind of job. Arguments left NULL keep what is already registered, so a
-- worker starting up does not undo an operator's change.
CREATE FUNCTION pgstack.register_job_kind(kind text, queue text DEFAULT NULL, max_attempts integer DEFAULT NULL,
                                          priority integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF register_job_kind.kind IS NULL OR register_job_kind.kind !~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$' THEN
    RAISE EXCEPTION 'invalid job kind %', coalesce(quote_literal(register_job_kind.kind), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'A kind is 1 to 128 characters: letters, digits and "_", ".", ":", "/", "-", starting with a letter, digit or "_".';
  END IF;
  IF register_job_kind.queue IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pgstack.job_queues q WHERE q.name = register_job_kind.queue) THEN
    RAISE EXCEPTION 'unknown job queue %', quote_literal(register_job_kind.queue)
      USING ERRCODE = '42704', HINT = format('Create it first: SELECT pgstack.create_job_queue(%L);', register_job_kind.queue);
  END IF;
  IF register_job_kind.max_attempts IS NOT NULL AND register_job_kind.max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'invalid max_attempts % for job kind %', register_job_kind.max_attempts, register_job_kind.kind
      USING ERRCODE = '22023', HINT = 'max_attempts is between 1 and 1000.';
  END IF;
  IF register_job_kind.priority IS NOT NULL AND register_job_kind.priority NOT BETWEEN 0 AND 9 THEN
    RAISE EXCEPTION 'invalid priority % for job kind %', register_job_kind.priority, register_job_kind.kind
      USING ERRCODE = '22023', HINT = 'Priorities go from 0 (runs first) to 9.';
  END IF;
  INSERT INTO pgstack.job_kinds AS k (kind, queue, max_attempts, priority)
  VALUES (register_job_kind.kind, coalesce(register_job_kind.queue, 'default'),
          coalesce(register_job_kind.max_attempts, 25), coalesce(register_job_kind.priority, 0))
  ON CONFLICT ON CONSTRAINT job_kinds_pkey DO UPDATE
    SET queue = coalesce(register_job_kind.queue, k.queue),
        max_attempts = coalesce(register_job_kind.max_attempts, k.max_attempts),
        priority = coalesce(register_job_kind.priority, k.priority);
END
$$;
COMMENT ON FUNCTION pgstack.register_job_kind(text, text, integer, integer) IS 'Registers a job kind with its default queue, max_attempts and priority';

-- Enqueues many jobs in one call: the arrays run in parallel (element i of each is job
-- i); NULL arrays or elements take the kind's defaults. Returns one row per job, in
-- input order: its id, and duplicate = true when its unique key was already held (id
-- is then the job holding it, and nothing was enqueued for this element).
CREATE FUNCTION pgstack.enqueue_many(
  kinds text[],
  args jsonb[],
  queues text[] DEFAULT NULL,
  priorities integer[] DEFAULT NULL,
  run_at timestamptz[] DEFAULT NULL,
  max_attempts integer[] DEFAULT NULL,
  unique_keys text[] DEFAULT NULL,
  tags text[] DEFAULT '{}',
  unique_while text DEFAULT 'active')
RETURNS TABLE (id bigint, duplicate boolean)
LANGUAGE plpgsql AS $$
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
    RAISE EXCEPTION 'enqueue_many: the arrays differ in length (% kinds, % args)', n, coalesce(cardinality(args), 0)
      USING ERRCODE = '22023', HINT = 'Pass one element per job in every array given (or NULL for an array to take the defaults).';
  END IF;
  IF enqueue_many.unique_while IS NULL OR enqueue_many.unique_while NOT IN ('active', 'pending') THEN
    RAISE EXCEPTION 'invalid unique_while %', coalesce(quote_literal(enqueue_many.unique_while), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'active: the key is held until the job ends; pending: only until it starts running.';
  END IF;
  IF cardinality(enqueue_many.tags) > 32 OR EXISTS (SELECT 1 FROM unnest(enqueue_many.tags) t WHERE t IS NULL OR length(t) NOT BETWEEN 1 AND 64) THEN
    RAISE EXCEPTION 'invalid job tags %', enqueue_many.tags
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
              HINT = 'Register it first: SELECT pgstack.register_job_kind(''<kind>''); a Worker registers the kinds it has handlers for when it starts.';
    ELSIF v_bad.unknown_queue THEN
      RAISE EXCEPTION 'unknown job queue % (job % of %)', quote_literal(v_bad.queue), v_bad.pos, n
        USING ERRCODE = '42704', HINT = format('Create it first: SELECT pgstack.create_job_queue(%L);', v_bad.queue);
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
    SELECT coalesce(i.queue, k.queue), i.unique_key, i.id, enqueue_many.unique_while = 'pending'
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
           v_now, v_now, i.unique_key, enqueue_many.tags
      FROM input i WHERE i.run_at IS NULL OR i.run_at <= v_now
    RETURNING 1
  )
  INSERT INTO pgstack.job_scheduled (id, attempt, queue, priority, kind, args, max_attempts, run_at,
                                     enqueued_at, unique_key, tags)
  SELECT i.id, 1, i.queue, i.priority, i.kind, i.args, i.max_attempts, i.run_at, v_now, i.unique_key, enqueue_many.tags
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
$$;
COMMENT ON FUNCTION pgstack.enqueue_many(text[], jsonb[], text[], integer[], timestamptz[], integer[], text[], text[], text) IS
  'Enqueues one job per element of kinds/args (other arrays optional), in the caller''s transaction';

-- Enqueues one job; see enqueue_many for the result.
--   SELECT id FROM pgstack.enqueue('send_email', '{"to": "a@example.com"}', run_at => now() + interval '1 hour');
CREATE FUNCTION pgstack.enqueue(
  kind text,
  args jsonb DEFAULT '{}',
  queue text DEFAULT NULL,
  priority integer DEFAULT NULL,
  run_at timestamptz DEFAULT NULL,
  max_attempts integer DEFAULT NULL,
  unique_key text DEFAULT NULL,
  tags text[] DEFAULT '{}',
  unique_while text DEFAULT 'active')
RETURNS TABLE (id bigint, duplicate boolean)
LANGUAGE sql AS $$
  SELECT * FROM pgstack.enqueue_many(ARRAY[kind], ARRAY[args], ARRAY[queue], ARRAY[priority], ARRAY[run_at],
                                     ARRAY[max_attempts], ARRAY[unique_key], tags, unique_while)
$$;
COMMENT ON FUNCTION pgstack.enqueue(text, jsonb, text, integer, timestamptz, integer, text, text[], text) IS
  'Enqueues one job in the caller''s transaction; returns its id (or the holder''s id when the unique key is taken)';

-- Jobs became available in these queues: wakes the workers listening. pg_notify drops
-- repeats of one payload within a transaction, so a transaction sends one notification
-- per queue however many jobs it enqueues (and however many statements it takes).
CREATE FUNCTION pgstack.job_announce(p_queues text[]) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify('pgstack_jobs', q) FROM (SELECT DISTINCT q FROM unnest(p_queues) AS q) s;
$$;

-- The job queue's tables. pgstack/jobs/README.md explains the design: jobs are appended
-- to job_stream and never updated; workers claim them in chunks with one job_batches
-- row each; a chunk is cut from the rows between two snapshots ("ticks") kept in
-- job_cursors; finished work leaves by TRUNCATE of whole partitions. docs/jobs.md is
-- the user's page.

-- Queues must exist before jobs go into them, so a typo is an error, not a queue that
-- no worker serves. Workers create the queues they serve when they start.
CREATE TABLE pgstack.job_queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  -- At most this many jobs of the queue claimed at once across every worker process.
  concurrency_limit integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT job_queue_name_format CHECK (name ~ '^[a-z0-9_][a-z0-9_.-]{0,62}$'),
  CONSTRAINT job_queue_concurrency_limit_positive CHECK (concurrency_limit IS NULL OR concurrency_limit > 0)
);

-- Kinds must be registered (a Worker registers the kinds it has handlers for), so an
-- enqueue with a misspelt kind fails in the caller's transaction instead of waiting
-- forever for a handler.
CREATE TABLE pgstack.job_kinds (
  kind text PRIMARY KEY,
  queue text NOT NULL DEFAULT 'default' REFERENCES pgstack.job_queues (name),
  max_attempts integer NOT NULL DEFAULT 25,
  priority smallint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT job_kind_format CHECK (kind ~ '^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$'),
  CONSTRAINT job_kind_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 1000),
  CONSTRAINT job_kind_priority_range CHECK (priority BETWEEN 0 AND 9)
);

-- A job keeps its id across attempts; the id comes from this sequence.
CREATE SEQUENCE pgstack.job_id_seq AS bigint;

-- Jobs ready to run, one row per attempt offered, append-only. xid is the enqueuing
-- transaction's id: the ticks decide by it which chunk a row belongs to, because ids
-- are taken before commit and commit out of order. slot is the partition: rows go to the
-- slot of the current epoch (job_epochs); maintenance starts a new epoch on the next
-- slot every rotation_interval, and TRUNCATEs an old slot once no transaction that
-- could write to it is open and all its rows are handed out and finished.
CREATE TABLE pgstack.job_stream (
  id bigint NOT NULL,
  attempt integer NOT NULL,
  xid xid8 NOT NULL,
  slot smallint NOT NULL,
  queue text NOT NULL,
  priority smallint NOT NULL,
  kind text NOT NULL,
  args jsonb NOT NULL,
  max_attempts integer NOT NULL,
  enqueued_at timestamptz NOT NULL,          -- first enqueue
  available_at timestamptz NOT NULL,         -- when this attempt became available
  unique_key text,
  tags text[] NOT NULL DEFAULT '{}',
  errors jsonb NOT NULL DEFAULT '[]'         -- earlier attempts: [{attempt, at, error}]
) PARTITION BY LIST (slot);
CREATE TABLE pgstack.job_stream_0 PARTITION OF pgstack.job_stream FOR VALUES IN (0);
CREATE TABLE pgstack.job_stream_1 PARTITION OF pgstack.job_stream FOR VALUES IN (1);
CREATE TABLE pgstack.job_stream_2 PARTITION OF pgstack.job_stream FOR VALUES IN (2);
-- The claim reads (queue, priority) in (xid, id) order from the cursor onwards.
CREATE INDEX job_stream_claim ON pgstack.job_stream (queue, priority, xid, id);
CREATE INDEX job_stream_id ON pgstack.job_stream (id);

-- One row per queue and priority: the batch being handed out is the rows visible in
-- tick_hi and not in tick_lo; pos is the last (xid, id) handed out from it. Claims lock
-- this row, so they are serialised per queue and priority, one short statement each.
CREATE TABLE pgstack.job_cursors (
  queue text NOT NULL REFERENCES pgstack.job_queues (name),
  priority smallint NOT NULL,
  tick_lo pg_snapshot NOT NULL,
  tick_hi pg_snapshot NOT NULL,
  pos_xid xid8 NOT NULL,
  pos_id bigint NOT NULL,
  ticked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, priority)
) WITH (fillfactor = 20, autovacuum_vacuum_threshold = 200, autovacuum_vacuum_scale_factor = 0);

-- Every queue gets its ten cursors (priorities 0-9) when it is created, so enqueueing
-- never writes a cursor: a first enqueue in a long transaction would otherwise make
-- every other enqueuer of that queue wait for it.
CREATE FUNCTION pgstack.job_queue_created() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Start from the empty snapshot 3:3: (nothing visible): the first batch is every
  -- committed row of the queue and priority.
  INSERT INTO pgstack.job_cursors (queue, priority, tick_lo, tick_hi, pos_xid, pos_id)
  SELECT NEW.name, p, '3:3:', '3:3:', '3', 0 FROM generate_series(0, 9) p;
  RETURN NULL;
END
$$;
CREATE TRIGGER job_queue_created AFTER INSERT ON pgstack.job_queues
  FOR EACH ROW EXECUTE FUNCTION pgstack.job_queue_created();
INSERT INTO pgstack.job_queues (name) VALUES ('default');

-- A chunk of jobs claimed by one worker, under a lease it extends while it works. The
-- chunk is stored as the bounds it was cut with (the two ticks and the (xid, id) range
-- handed out), not as a list of ids: the stream never changes, so the bounds always
-- select the same rows (pgstack.job_batch_rows), and the row stays small. It is deleted
-- when the chunk is finished; if the lease runs out, the jobs not in done_ids are
-- offered again (next attempt) and done_ids are never run again.
CREATE TABLE pgstack.job_batches (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  priority smallint NOT NULL,
  worker text NOT NULL,
  tick_lo pg_snapshot NOT NULL,
  tick_hi pg_snapshot NOT NULL,
  from_xid xid8 NOT NULL,      -- exclusive: (xid, id) > (from_xid, from_id)
  from_id bigint NOT NULL,
  to_xid xid8 NOT NULL,        -- inclusive: (xid, id) <= (to_xid, to_id)
  to_id bigint NOT NULL,
  job_count integer NOT NULL,
  done_ids bigint[] NOT NULL DEFAULT '{}',     -- finished, recorded by a checkpoint
  unique_ids bigint[] NOT NULL DEFAULT '{}',   -- the jobs holding a unique key
  claimed_at timestamptz NOT NULL DEFAULT now(),
  lease_expires_at timestamptz NOT NULL
) WITH (autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0);
CREATE INDEX job_batches_lease ON pgstack.job_batches (lease_expires_at);
CREATE INDEX job_batches_queue ON pgstack.job_batches (queue);

-- Jobs to run later: delayed jobs, retries waiting out their backoff, snoozed jobs.
-- pgstack.jobs_maintain moves them into job_stream when due.
CREATE TABLE pgstack.job_scheduled (
  id bigint PRIMARY KEY,
  attempt integer NOT NULL,
  queue text NOT NULL,
  priority smallint NOT NULL,
  kind text NOT NULL,
  args jsonb NOT NULL,
  max_attempts integer NOT NULL,
  run_at timestamptz NOT NULL,
  enqueued_at timestamptz NOT NULL,
  unique_key text,
  tags text[] NOT NULL DEFAULT '{}',
  errors jsonb NOT NULL DEFAULT '[]'
) WITH (autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX job_scheduled_run_at ON pgstack.job_scheduled (run_at);
CREATE INDEX job_scheduled_queue ON pgstack.job_scheduled (queue);

-- Jobs that ended without success: discarded after their last attempt, or cancelled.
-- Kept with every attempt's error until the retention period (jobs_maintain).
CREATE TABLE pgstack.job_history (
  id bigint PRIMARY KEY,
  state text NOT NULL,
  attempt integer NOT NULL,
  queue text NOT NULL,
  priority smallint NOT NULL,
  kind text NOT NULL,
  args jsonb NOT NULL,
  max_attempts integer NOT NULL,
  enqueued_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  unique_key text,
  tags text[] NOT NULL DEFAULT '{}',
  errors jsonb NOT NULL DEFAULT '[]',
  CONSTRAINT job_history_state CHECK (state IN ('discarded', 'cancelled'))
);
CREATE INDEX job_history_finished_at ON pgstack.job_history (finished_at);
CREATE INDEX job_history_queue_state ON pgstack.job_history (queue, state);

-- Unique jobs: a key is held from enqueue until the job completes, is discarded or is
-- cancelled (unique_while 'active'), or only until it starts ('pending'). The primary key makes concurrent enqueuers of one key wait for each other
-- and all but the first find it taken.
CREATE TABLE pgstack.job_unique_keys (
  queue text NOT NULL,
  unique_key text NOT NULL,
  job_id bigint NOT NULL,
  -- Enqueued with unique_while => 'pending': the key is released when the job starts,
  -- so one more can wait while it runs (debouncing).
  release_at_start boolean NOT NULL DEFAULT false,
  PRIMARY KEY (queue, unique_key)
) WITH (autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX job_unique_keys_job ON pgstack.job_unique_keys (job_id);

-- Cancellation requests for jobs in the stream or running: claims hand such jobs over
-- marked cancelled, heartbeats tell the worker running one to fire its cancel token.
CREATE TABLE pgstack.job_cancellations (
  job_id bigint PRIMARY KEY,
  requested_at timestamptz NOT NULL DEFAULT now()
);

-- Leases for singletons among many worker processes (the periodic-job scheduler): the
-- holder renews before expires_at; anyone may take an expired lease.
CREATE TABLE pgstack.job_leaders (
  name text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
) WITH (fillfactor = 50);

-- Counters per worker process and queue, one row each (so completions never contend on
-- a shared row), summed by pgstack.job_queue_stats.
CREATE TABLE pgstack.job_counters (
  worker text NOT NULL,
  queue text NOT NULL,
  completed bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,        -- attempts that raised and will be retried
  discarded bigint NOT NULL DEFAULT 0,
  cancelled bigint NOT NULL DEFAULT 0,
  rescued bigint NOT NULL DEFAULT 0,       -- offered again after a lost lease
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (worker, queue)
) WITH (fillfactor = 50, autovacuum_vacuum_threshold = 200, autovacuum_vacuum_scale_factor = 0);

-- Epochs of the stream: from start_xid on, transactions write to slot (until the next
-- epoch). A new epoch only ever starts on an empty slot.
CREATE TABLE pgstack.job_epochs (
  epoch bigint PRIMARY KEY,
  slot smallint NOT NULL CHECK (slot BETWEEN 0 AND 2),
  start_xid xid8 NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pgstack.job_epochs (epoch, slot, start_xid) VALUES (0, 0, '3');

-- Settings of the queue as a whole (one row).
CREATE TABLE pgstack.job_settings (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  discarded_retention interval NOT NULL DEFAULT '7 days',
  cancelled_retention interval NOT NULL DEFAULT '7 days',
  counters_retention interval NOT NULL DEFAULT '30 days',
  -- How often the stream moves on to the next partition. Completed jobs stay visible
  -- (pgstack jobs show) for two to three of these, then leave with a TRUNCATE.
  rotation_interval interval NOT NULL DEFAULT '10 seconds'
);
INSERT INTO pgstack.job_settings DEFAULT VALUES;

-- Periodic jobs: the last tick enqueued per schedule name. Enqueueing a tick is a
-- compare-and-set on this row in the same transaction as the job, so each tick runs
-- once even if two processes both think they lead.
CREATE TABLE pgstack.job_periodic (
  name text PRIMARY KEY,
  cron text NOT NULL,
  last_tick timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

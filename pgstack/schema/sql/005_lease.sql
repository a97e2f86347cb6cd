-- Leases: one primitive for "at most one holder of <name> until <time>", for every
-- module that needs a leader or a mutex (the periodic-job scheduler's leadership, kv's
-- locks and the cache's stampede protection, and scheduled tasks and HA later). Each
-- user prefixes its names ('jobs:periodic', 'kv:<namespace>:<key>') so two modules
-- never contend for one lease by accident. docs/maintenance.md, "Leases".
--
-- LOGGED, deliberately. A lease promises its holder that nobody else holds it before
-- expires_at; the holder acts on that promise (enqueues the periodic tick, recomputes
-- the cache entry) without asking again. An UNLOGGED table is emptied by crash
-- recovery and is not replicated: after a server crash or a failover to the standby
-- every lease would be free at once, a second process would take one while its holder
-- (which did not crash: only the server did) still acts as the leader, and the promise
-- would be broken. Logged, a lease survives both and is taken over once its ttl passes,
-- which is the wait a holder's death already costs. The price is one WAL record per
-- take or renewal, small next to what a lease guards; fillfactor 50 keeps renewals HOT.
CREATE TABLE pgstack.leases (
  name text COLLATE "C" PRIMARY KEY,
  holder text NOT NULL,
  -- When the current holder took it; a renewal keeps it, a takeover resets it.
  acquired_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT lease_name_length CHECK (octet_length(name) BETWEEN 1 AND 1024),
  CONSTRAINT lease_holder_length CHECK (octet_length(holder) BETWEEN 1 AND 1024)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 200);
COMMENT ON TABLE pgstack.leases IS 'pgstack: leases (lease_acquire), one holder per name until expires_at';

-- Bad input says what failed and what to do, and changes nothing (22023).
CREATE FUNCTION pgstack.lease_check(name text, holder text, ttl interval)
RETURNS void LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  IF name IS NULL OR octet_length(name) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'lease: name of % bytes is not valid', coalesce(octet_length(name)::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'A lease name is 1 to 1024 bytes; prefix it with your module (''jobs:periodic'').';
  END IF;
  IF holder IS NULL OR octet_length(holder) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'lease %: holder of % bytes is not valid', name, coalesce(octet_length(holder)::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'A holder is 1 to 1024 bytes naming the process (host:pid:uuid).';
  END IF;
  IF ttl IS NULL OR ttl <= interval '0' THEN
    RAISE EXCEPTION 'lease %: ttl % is not positive', name, coalesce(ttl::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Pass how long the lease lasts, e.g. interval ''30 seconds''; lease_release gives it up.';
  END IF;
END
$$;

-- Takes the lease `name` for `holder` until `ttl` from now, when it is free or ran
-- out; when `holder` already holds it, extends (or shortens) it to `ttl` from now.
-- True when `holder` holds it on return. The row lock of the upsert serializes
-- contenders: exactly one of two concurrent takers of a free lease gets true.
-- SECURITY DEFINER: the application roles may not write pgstack.leases directly, or
-- any of them could take over any lease.
CREATE FUNCTION pgstack.lease_acquire(name text, holder text, ttl interval)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  p_name ALIAS FOR $1;
  p_holder ALIAS FOR $2;
  p_ttl ALIAS FOR $3;
  v_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
  PERFORM pgstack.lease_check(p_name, p_holder, p_ttl);
  INSERT INTO pgstack.leases AS l (name, holder, acquired_at, expires_at)
  VALUES (p_name, p_holder, v_now, v_now + p_ttl)
  ON CONFLICT ON CONSTRAINT leases_pkey DO UPDATE
    SET holder = excluded.holder, expires_at = excluded.expires_at,
        acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > v_now THEN l.acquired_at
                           ELSE excluded.acquired_at END
    WHERE l.holder = excluded.holder OR l.expires_at <= v_now;
  RETURN FOUND;
END
$$;

-- Gives the lease up so another holder need not wait for its ttl. True when `holder`
-- held it (a lease that ran out but nobody took is still the holder's to release);
-- false, changing nothing, for anyone else's or an absent one.
CREATE FUNCTION pgstack.lease_release(name text, holder text)
RETURNS boolean LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (DELETE FROM pgstack.leases l WHERE l.name = lease_release.name AND l.holder = lease_release.holder
                RETURNING 1)
  SELECT pg_catalog.count(*) > 0 FROM gone
$$;

-- Who holds the lease now: NULL when it is free or ran out. When it expires is a
-- column of pgstack.leases, which the application roles may read.
CREATE FUNCTION pgstack.lease_holder(name text)
RETURNS text LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT l.holder FROM pgstack.leases l
   WHERE l.name = lease_holder.name AND l.expires_at > pg_catalog.clock_timestamp()
$$;

-- Housekeeping: leases that ran out hold no promise; without this, one row per kv
-- lock key ever taken would stay. Run by pgstack.maintain() (as the owner).
CREATE FUNCTION pgstack.lease_sweep()
RETURNS bigint LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH gone AS (DELETE FROM pgstack.leases l WHERE l.expires_at <= pg_catalog.clock_timestamp() RETURNING 1)
  SELECT pg_catalog.count(*) FROM gone
$$;
SELECT pgstack.register_maintenance_task('lease_sweep', 'pgstack.lease_sweep()', interval '1 minute');

-- Who may do what: readwrite takes and gives up leases, both roles read who holds one;
-- the table only through these functions (and SELECT); the helpers are nobody's.
REVOKE ALL ON pgstack.leases FROM PUBLIC, readwrite, readonly;
GRANT SELECT ON pgstack.leases TO readwrite, readonly;
REVOKE ALL ON FUNCTION pgstack.lease_check(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.lease_acquire(text, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.lease_release(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.lease_holder(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgstack.lease_sweep() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.lease_acquire(text, text, interval), pgstack.lease_release(text, text) TO readwrite;
GRANT EXECUTE ON FUNCTION pgstack.lease_holder(text) TO readwrite, readonly;
COMMENT ON FUNCTION pgstack.lease_acquire(text, text, interval) IS 'pgstack: takes or extends a lease (docs/maintenance.md#leases)';
COMMENT ON FUNCTION pgstack.lease_release(text, text) IS 'pgstack: gives a lease up';
COMMENT ON FUNCTION pgstack.lease_holder(text) IS 'pgstack: who holds a lease now, or NULL';

-- Key-value storage instead of Redis (docs/kv.md). Keys live in namespaces; each
-- namespace is one partition of kv_entries, UNLOGGED unless created logged: an
-- unlogged partition writes no WAL (about 3x the upsert rate here), is emptied by a
-- crash of the server and is not replicated to standbys. A logged namespace survives
-- both, at the price of WAL.

CREATE TABLE pgstack.kv_namespaces (
  name text PRIMARY KEY,
  logged boolean NOT NULL DEFAULT false,
  -- Where the incremental sweep of expired keys goes on (kv_sweep): it walks the keys
  -- in order, a window at a time, so it needs no index on expires_at and updates that
  -- change a key's expiry stay HOT.
  sweep_after text COLLATE "C" NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The name becomes part of a table name (kv_ns_<name>), hence the narrow format.
  CONSTRAINT kv_namespace_name_format CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$')
);
COMMENT ON TABLE pgstack.kv_namespaces IS 'pgstack kv: namespaces of keys, one partition of kv_entries each';

-- COLLATE "C": keys compare as bytes, which is what a key store means and is faster
-- than a linguistic collation.
CREATE TABLE pgstack.kv_entries (
  namespace text NOT NULL,
  key text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  -- NULL: never expires. A key whose expires_at has passed is invisible at once to
  -- every function here, whether or not kv_sweep has removed its row yet.
  expires_at timestamptz,
  -- Set only by the cache (kv_cache_put): after it the value is stale, served only
  -- while another process recomputes it.
  refresh_at timestamptz,
  PRIMARY KEY (namespace, key),
  CONSTRAINT kv_key_length CHECK (octet_length(key) BETWEEN 1 AND 1024)
) PARTITION BY LIST (namespace);
COMMENT ON TABLE pgstack.kv_entries IS 'pgstack kv: keys and values, partitioned by namespace';

-- Locks with a lease, for cache stampede protection and as a general mutex (SET NX PX
-- in Redis terms). Unlogged: a crash frees them all, which is what a lease means.
CREATE UNLOGGED TABLE pgstack.kv_locks (
  namespace text NOT NULL,
  key text COLLATE "C" NOT NULL,
  owner text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, key)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 200);
COMMENT ON TABLE pgstack.kv_locks IS 'pgstack kv: leased locks (kv_try_lock), cache stampede protection';

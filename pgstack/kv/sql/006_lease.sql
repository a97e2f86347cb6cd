-- kv's locks on the core lease (schema/sql/005_lease.sql): kv_try_lock and kv_unlock
-- keep their signatures, grants and results, and take the lease named
-- 'kv:<namespace>:<key>'. A namespace name never holds ':' (kv_namespace_name_format),
-- so the name says which (namespace, key) it is and no other module's lease collides.
-- The namespace and key are still checked by kv (kv_check_write), with kv's messages.
--
-- A lease is logged where kv_locks was unlogged: a server crash or a failover no
-- longer frees every lock at once while its holders still compute (schema/sql/005).

-- Locks held now keep their holder across the upgrade.
INSERT INTO pgstack.leases (name, holder, acquired_at, expires_at)
SELECT 'kv:' || l.namespace || ':' || l.key, l.owner, pg_catalog.clock_timestamp(), l.expires_at
  FROM pgstack.kv_locks l
 WHERE l.expires_at > pg_catalog.clock_timestamp() AND octet_length(l.owner) BETWEEN 1 AND 1024
ON CONFLICT ON CONSTRAINT leases_pkey DO NOTHING;
DELETE FROM pgstack.kv_locks;

-- Takes the lock on (namespace, key) for `owner` until `ttl` passes, unless another
-- owner holds it. Taking it again as the same owner extends it.
CREATE OR REPLACE FUNCTION pgstack.kv_try_lock(namespace text, key text, owner text, ttl interval)
RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
BEGIN
  PERFORM pgstack.kv_check_write(kv_try_lock.key, coalesce(kv_try_lock.ttl, interval '0'));
  RETURN pgstack.lease_acquire('kv:' || kv_try_lock.namespace || ':' || kv_try_lock.key, kv_try_lock.owner, kv_try_lock.ttl);
END
$$;

CREATE OR REPLACE FUNCTION pgstack.kv_unlock(namespace text, key text, owner text)
RETURNS boolean LANGUAGE sql
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT pgstack.lease_release('kv:' || kv_unlock.namespace || ':' || kv_unlock.key, kv_unlock.owner)
$$;

-- pgstack.kv_locks stays for this release, empty: readwrite was granted direct access
-- to it (docs/kv.md), so an application may still read it; kv_sweep and
-- kv_drop_namespace still delete from it, harmlessly. Dropping it, and those
-- statements, is a later migration's.
COMMENT ON TABLE pgstack.kv_locks IS 'pgstack kv: unused since kv 006 (locks are pgstack.leases named kv:<namespace>:<key>); dropped in a later release';

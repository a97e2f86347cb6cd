-- kv's part of the capability contract (pgstack/schema/sql/004): its health check, its
-- Prometheus samples and advise's figures: SELECT * FROM pgstack.kv_health('{}');

-- Each namespace with the statistics of its table (one partition of kv_entries each):
-- where the ops functions below find a namespace's figures.
CREATE VIEW pgstack.kv_namespace_tables AS
  SELECT n.name, s.relid, s.schemaname, s.relname, s.n_live_tup, s.n_dead_tup, s.seq_scan, s.idx_scan,
         s.n_tup_ins, s.n_tup_upd, s.n_tup_del
  FROM pgstack.kv_namespaces n
  JOIN pg_catalog.pg_stat_user_tables s ON s.schemaname = 'pgstack' AND s.relname = 'kv_ns_' || n.name;
COMMENT ON VIEW pgstack.kv_namespace_tables IS 'pgstack kv: each namespace''s table and its statistics';
REVOKE ALL ON pgstack.kv_namespace_tables FROM PUBLIC;
GRANT SELECT ON pgstack.kv_namespace_tables TO readwrite, readonly;

-- kv_bloat: a namespace's table with more dead rows than dead_tuples_min and than
-- kv_dead_ratio of its rows (defaults: doctor's 1000, and pgstack/kv/capability.cc's 0.5).
CREATE FUNCTION pgstack.kv_health(thresholds jsonb DEFAULT '{}')
RETURNS TABLE (check_name text, severity text, subject text, what text, why text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH t AS (
    SELECT coalesce((thresholds ->> 'dead_tuples_min')::float8::bigint, 1000) AS dead_min,
           coalesce((thresholds ->> 'kv_dead_ratio')::float8, 0.5) AS dead_ratio
  )
  SELECT 'kv_bloat', 'ok', NULL, NULL, NULL, NULL
  UNION ALL
  (SELECT 'kv_bloat', 'warning', 'kv namespace ' || k.name,
          format('%s of its table''s rows are dead (%s dead, %s live); threshold %s',
                 pgstack.percent_text(k.n_dead_tup::float8 / (k.n_live_tup + k.n_dead_tup)), k.n_dead_tup, k.n_live_tup,
                 pgstack.percent_text(t.dead_ratio)),
          'kv rewrites rows on every set: without vacuum the table and its key index grow, and gets slow down',
          format('VACUUM %I.%I;  -- and run pgstack.maintain() every minute (pg_cron) so expired keys are swept',
                 k.schemaname, k.relname)
   FROM pgstack.kv_namespace_tables k, t
   WHERE k.n_dead_tup >= t.dead_min AND k.n_dead_tup > t.dead_ratio * (k.n_live_tup + k.n_dead_tup)
   ORDER BY k.name)
$$;

CREATE FUNCTION pgstack.kv_metrics()
RETURNS TABLE (family text, type text, help text, labels jsonb, value double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT m.family, m.type, m.help, jsonb_build_object('namespace', k.name), m.value
  FROM pgstack.kv_namespace_tables k CROSS JOIN LATERAL (VALUES
    ('pgstack_kv_entries', 'gauge', 'Live entries of a kv namespace (estimate).', k.n_live_tup::float8),
    ('pgstack_kv_dead_entries', 'gauge', 'Dead rows of a kv namespace''s table, awaiting vacuum.', k.n_dead_tup::float8),
    ('pgstack_kv_size_bytes', 'gauge', 'Size of a kv namespace''s table with its index.',
     pg_catalog.pg_total_relation_size(k.relid)::float8),
    ('pgstack_kv_reads_total', 'counter', 'Key lookups in a kv namespace (index scans).',
     (coalesce(k.idx_scan, 0) + k.seq_scan)::float8),
    ('pgstack_kv_writes_total', 'counter', 'Rows written to a kv namespace: sets, deletes, sweeps.',
     (k.n_tup_ins + k.n_tup_upd + k.n_tup_del)::float8)
  ) m(family, type, help, value)
  ORDER BY k.name
$$;

-- advise's counters: index lookups and row writes of every namespace's table.
CREATE FUNCTION pgstack.kv_usage()
RETURNS jsonb LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT jsonb_build_object('operations',
           coalesce(sum(coalesce(idx_scan, 0) + seq_scan + n_tup_ins + n_tup_upd + n_tup_del), 0))
  FROM pgstack.kv_namespace_tables
$$;

-- Whether kv's load justifies Redis.
CREATE FUNCTION pgstack.kv_advice(before jsonb, after jsonb, seconds double precision)
RETURNS SETOF pgstack.advice_evidence
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH m AS (
    SELECT ((after ->> 'operations')::float8 - (before ->> 'operations')::float8) / greatest(seconds, 0.001) AS ops
  )
  SELECT e.* FROM m, LATERAL pgstack.advice_verdict(
    'kv', 'kv table operations per second', m.ops,
    format('%s ops/s over %s (index lookups and row writes)', to_char(m.ops, 'FM999999999990'),
           pgstack.seconds_text(seconds)),
    50000, '50000 ops/s sustained', 'Redis', 'Postgres is enough for kv and caching',
    'sustained past half of what kv measured on a 2-core machine: move the hottest namespace to Redis, keep the rest') e
$$;

REVOKE ALL ON FUNCTION pgstack.kv_health(jsonb), pgstack.kv_metrics(), pgstack.kv_usage(),
  pgstack.kv_advice(jsonb, jsonb, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.kv_health(jsonb), pgstack.kv_metrics(), pgstack.kv_usage(),
  pgstack.kv_advice(jsonb, jsonb, double precision) TO readwrite, readonly;

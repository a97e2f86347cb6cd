-- The docs capability's part of the contract (pgstack/schema/sql/004): its health checks
-- and its Prometheus samples, over the collections the caller can see:
-- SELECT * FROM pgstack.docs_health('{}');

-- Each collection with its table's statistics.
CREATE VIEW pgstack.doc_collection_stats AS
  SELECT c.collection, c.schema_name, c.name, s.n_live_tup, s.n_dead_tup, s.seq_scan, s.seq_tup_read,
         coalesce(s.idx_scan, 0) AS idx_scan, s.n_tup_ins, s.n_tup_upd, s.n_tup_del,
         pg_catalog.pg_relation_size(c.collection) AS heap_bytes,
         coalesce(pg_catalog.pg_relation_size(nullif(k.reltoastrelid, 0)), 0) AS toast_bytes,
         c.total_bytes
    FROM pgstack.doc_collections c
    JOIN pg_catalog.pg_class k ON k.oid = c.collection
    JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.collection;
COMMENT ON VIEW pgstack.doc_collection_stats IS 'pgstack docs: each collection and its statistics';
REVOKE ALL ON pgstack.doc_collection_stats FROM PUBLIC;
GRANT SELECT ON pgstack.doc_collection_stats TO readwrite, readonly;

-- doc_seq_scans: a collection of at least doc_seq_scan_rows documents whose reads are
-- mostly whole-table scans: a filter or sort with no index to serve it.
-- doc_toast: most of a collection's bytes (over doc_toast_share, and 10 MB) are in
-- TOAST, where documents over about 2 kB go: every update rewrites such a document
-- whole, and reading one field reads all of it.
CREATE FUNCTION pgstack.docs_health(thresholds jsonb DEFAULT '{}')
RETURNS TABLE (check_name text, severity text, subject text, what text, why text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  WITH t AS (
    SELECT coalesce((thresholds ->> 'doc_seq_scan_rows')::float8::bigint, 10000) AS scan_rows,
           coalesce((thresholds ->> 'doc_toast_share')::float8, 0.5) AS toast_share
  )
  SELECT 'doc_seq_scans', 'ok', NULL, NULL, NULL, NULL
  UNION ALL
  (SELECT 'doc_seq_scans', 'warning', 'collection ' || s.collection::text,
          format('%s of %s reads scanned the whole table (%s documents)', s.seq_scan, s.seq_scan + s.idx_scan, s.n_live_tup),
          'a filter or sort that no index serves reads every document: it slows down as the collection grows',
          format('find the filter in `pgstack top`; ranges and sorts need `pgstack docs index %s <path> --type numeric|text|timestamp` (docs/documents.md, "Indexes")',
                 s.collection::text)
     FROM pgstack.doc_collection_stats s, t
    WHERE s.n_live_tup >= t.scan_rows AND s.seq_scan > 100 AND s.seq_scan > 10 * s.idx_scan
    ORDER BY s.collection::text)
  UNION ALL
  SELECT 'doc_toast', 'ok', NULL, NULL, NULL, NULL
  UNION ALL
  (SELECT 'doc_toast', 'warning', 'collection ' || s.collection::text,
          format('%s%% of its bytes are in TOAST (%s of %s)', round(100.0 * s.toast_bytes / nullif(s.heap_bytes + s.toast_bytes, 0)),
                 pg_catalog.pg_size_pretty(s.toast_bytes), pg_catalog.pg_size_pretty(s.heap_bytes + s.toast_bytes)),
          'documents over about 2 kB are stored out of line: every update rewrites one whole, and reading a field reads it all',
          'keep large, rarely read parts (bodies, blobs) in a table of their own, or split the document; fields that change often belong in columns'
     FROM pgstack.doc_collection_stats s, t
    WHERE s.toast_bytes > 10 * 1024 * 1024 AND s.toast_bytes > t.toast_share * (s.heap_bytes + s.toast_bytes)
    ORDER BY s.collection::text)
$$;

CREATE FUNCTION pgstack.docs_metrics()
RETURNS TABLE (family text, type text, help text, labels jsonb, value double precision)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pgstack, pg_temp
AS $$
  SELECT m.family, m.type, m.help, jsonb_build_object('collection', s.collection::text), m.value
  FROM pgstack.doc_collection_stats s CROSS JOIN LATERAL (VALUES
    ('pgstack_docs_documents', 'gauge', 'Documents of a collection (estimate).', s.n_live_tup::float8),
    ('pgstack_docs_size_bytes', 'gauge', 'Size of a collection with its indexes and TOAST.', s.total_bytes::float8),
    ('pgstack_docs_toast_bytes', 'gauge', 'Bytes of a collection''s documents stored out of line (TOAST).', s.toast_bytes::float8),
    ('pgstack_docs_seq_scans_total', 'counter', 'Reads of a collection that scanned the whole table.', s.seq_scan::float8),
    ('pgstack_docs_index_scans_total', 'counter', 'Reads of a collection through an index.', s.idx_scan::float8),
    ('pgstack_docs_writes_total', 'counter', 'Documents inserted, updated or deleted.', (s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::float8)
  ) m(family, type, help, value)
  ORDER BY s.collection::text
$$;

REVOKE ALL ON FUNCTION pgstack.docs_health(jsonb), pgstack.docs_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgstack.docs_health(jsonb), pgstack.docs_metrics() TO readwrite, readonly;

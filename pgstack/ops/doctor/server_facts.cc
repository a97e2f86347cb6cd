#include "pgstack/ops/doctor/server_facts.h"

namespace pgstack::doctor {

std::optional<std::string> statements_view(pg::Connection& conn) {
  auto rows = conn.query(
      "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
      "WHERE e.extname = 'pg_stat_statements'");
  if (rows.rows() == 0) return std::nullopt;
  // The schema's name comes from the catalog, quoted: nothing here comes from a user.
  return conn.quote_identifier(rows[0].get<std::string>(0)) + ".pg_stat_statements";
}

bool relation_exists(pg::Connection& conn, const std::string& name) {
  // The catalog, not to_regclass(): a role without USAGE on the schema (a monitoring
  // role) gets "permission denied" from to_regclass, and false from this.
  const auto dot = name.find('.');
  return conn.query_value<bool>(
      "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = $1 AND c.relname = $2)",
      dot == std::string::npos ? std::string("public") : name.substr(0, dot),
      dot == std::string::npos ? name : name.substr(dot + 1));
}

namespace sql {

const char* const kStandbyLagSeconds =
    "(CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END)::float8";

const char* const kStandbyPendingBytes =
    "coalesce(greatest(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0), 0)::float8";

const char* const kSequenceUsage =
    "SELECT s.schemaname::text, s.sequencename::text, format('%I.%I', s.schemaname, s.sequencename), "
    "       ((s.last_value - s.min_value)::float8 / nullif(least(s.max_value, CASE t.typname WHEN 'int2' THEN 32767 "
    "         WHEN 'int4' THEN 2147483647 ELSE s.max_value END) - s.min_value, 0))::float8, "
    // quote_ident, not format('%I'): a sequence no column owns has no table, and %I
    // refuses a NULL where quote_ident passes it on.
    "       coalesce(quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.' || quote_ident(a.attname) "
    "                || ' (' || t.typname || ')', '') "
    "FROM pg_sequences s "
    "JOIN pg_namespace n ON n.nspname = s.schemaname "
    "JOIN pg_class c ON c.relname = s.sequencename AND c.relnamespace = n.oid "
    "LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass "
    "     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
    "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
    "LEFT JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_class tc ON tc.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace "
    "WHERE s.last_value IS NOT NULL AND s.increment_by > 0 "
    "ORDER BY 1, 2";

}  // namespace sql

std::string not_kv_table(const std::string& relid_column) {
  return relid_column +
         " NOT IN (SELECT i.inhrelid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent "
         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgstack' AND c.relname = 'kv_entries')";
}
}  // namespace pgstack::doctor

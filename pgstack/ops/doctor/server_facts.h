// Reads of a server's own state that doctor, metrics, top and advise share, so each
// figure is computed one way wherever it shows up.
//
//   if (auto view = statements_view(conn)) conn.query("SELECT calls FROM " + *view);
//   conn.query(std::string("SELECT ") + sql::kStandbyLagSeconds);
#pragma once

#include <optional>
#include <string>

#include "pgstack/pg/connection.h"

namespace pgstack::doctor {

// pg_stat_statements' view, schema-qualified and quoted ("public".pg_stat_statements),
// or nullopt when the extension is not installed in this database. Reading it still
// fails with SQLSTATE 55000 when the library is not in shared_preload_libraries.
std::optional<std::string> statements_view(pg::Connection& conn);

// True when a table or view of that (qualified) name exists: a workload's presence.
bool relation_exists(pg::Connection& conn, const std::string& name);

namespace sql {
// Expressions, on a standby: how far replay is behind, in seconds (now() minus the last
// replayed commit's time while received WAL waits; 0 when all of it is replayed) and in
// bytes of received WAL not yet replayed.
extern const char* const kStandbyLagSeconds;
extern const char* const kStandbyPendingBytes;
// A query: every sequence with a value, its share used, bounded by the column it feeds
// (a bigint sequence behind an integer column ends at 2^31). Columns: schema, sequence,
// qualified name, used (float8, NULL for an empty range), the column it feeds ("" if none).
extern const char* const kSequenceUsage;
}  // namespace sql

// A condition: the table whose oid is in relid_column is not a kv namespace's table. kv
// rewrites those rows on every set, so check_kv_bloat judges them at its own threshold and
// the generic dead-row checks leave them out rather than report them twice.
std::string not_kv_table(const std::string& relid_column);

}  // namespace pgstack::doctor

#include "pgstack/ops/metrics/collect.h"

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <utility>

#include "pgstack/capability/capability.h"
#include "pgstack/ops/doctor/server_facts.h"
#include "pgstack/pg/errors.h"

namespace pgstack::metrics {
namespace {

struct FamilyDef {
  const char* name;
  const char* type;
  const char* help;
};

// Every family, in the order the text lists them.
constexpr FamilyDef kFamilies[] = {
    {"pgstack_in_recovery", "gauge", "1 on a standby (in recovery), 0 on the primary."},
    {"pgstack_start_time_seconds", "gauge", "When the server started, Unix time."},
    {"pgstack_max_connections", "gauge", "The server's max_connections."},
    {"pgstack_connections", "gauge", "Client connections by database and state (pg_stat_activity)."},
    {"pgstack_idle_in_transaction_sessions", "gauge",
     "Sessions idle inside a transaction for longer than older_than_seconds."},
    {"pgstack_longest_transaction_seconds", "gauge", "Age of the oldest open transaction of a client."},
    {"pgstack_longest_query_seconds", "gauge", "Run time of the longest running statement of a client."},
    {"pgstack_database_size_bytes", "gauge", "Size of the database on disk."},
    {"pgstack_database_xid_age", "gauge", "Transactions since the database was last frozen (wraparound at 2^31)."},
    {"pgstack_database_blocks_hit_total", "counter", "Block reads served from shared_buffers."},
    {"pgstack_database_blocks_read_total", "counter", "Block reads from disk or the OS cache."},
    {"pgstack_database_transactions_committed_total", "counter", "Transactions committed."},
    {"pgstack_database_transactions_rolled_back_total", "counter", "Transactions rolled back."},
    {"pgstack_database_rows_inserted_total", "counter", "Rows inserted."},
    {"pgstack_database_rows_updated_total", "counter", "Rows updated."},
    {"pgstack_database_rows_deleted_total", "counter", "Rows deleted."},
    {"pgstack_database_deadlocks_total", "counter", "Deadlocks detected."},
    {"pgstack_database_temp_bytes_total", "counter", "Bytes written to temporary files by queries."},
    {"pgstack_checkpoints_timed_total", "counter", "Checkpoints started by checkpoint_timeout."},
    {"pgstack_checkpoints_requested_total", "counter",
     "Checkpoints requested: max_wal_size reached, CHECKPOINT, backups."},
    {"pgstack_checkpoint_buffers_written_total", "counter", "Buffers written by checkpoints."},
    {"pgstack_backend_buffers_written_total", "counter", "Buffers written by backends themselves."},
    {"pgstack_wal_bytes_total", "counter", "WAL generated, bytes (rate() is the write rate)."},
    {"pgstack_replication_lag_seconds", "gauge",
     "On a standby: how far replay is behind the primary (0 when all received WAL is replayed)."},
    {"pgstack_replication_lag_bytes", "gauge", "On a standby: WAL received and not yet replayed."},
    {"pgstack_replica_replay_lag_seconds", "gauge", "On the primary: each standby's replay lag."},
    {"pgstack_replica_replay_lag_bytes", "gauge", "On the primary: WAL each standby has not yet replayed."},
    {"pgstack_replication_slot_active", "gauge", "1 when a consumer streams through the slot."},
    {"pgstack_replication_slot_retained_bytes", "gauge", "WAL the primary keeps for the slot."},
    {"pgstack_archiver_archived_total", "counter", "WAL segments archived."},
    {"pgstack_archiver_failed_total", "counter", "Failed attempts to archive a WAL segment."},
    {"pgstack_archiver_last_archived_timestamp_seconds", "gauge", "When the last segment was archived."},
    {"pgstack_archiver_last_failed_timestamp_seconds", "gauge", "When archiving last failed."},
    {"pgstack_table_live_tuples", "gauge", "Estimated live rows of a table."},
    {"pgstack_table_dead_tuples", "gauge", "Estimated dead rows of a table, awaiting vacuum."},
    {"pgstack_table_size_bytes", "gauge", "Size of a table with its indexes and TOAST."},
    {"pgstack_table_seq_scans_total", "counter", "Sequential scans of a table."},
    {"pgstack_table_index_scans_total", "counter", "Index scans of a table."},
    {"pgstack_table_rows_inserted_total", "counter", "Rows inserted into a table."},
    {"pgstack_table_rows_updated_total", "counter", "Rows updated in a table."},
    {"pgstack_table_rows_deleted_total", "counter", "Rows deleted from a table."},
    {"pgstack_table_vacuums_total", "counter", "Vacuums of a table, manual and automatic."},
    {"pgstack_table_last_vacuum_timestamp_seconds", "gauge", "When the table was last vacuumed, manually or not."},
    {"pgstack_index_scans_total", "counter", "Scans of an index (0 for long: unused)."},
    {"pgstack_index_size_bytes", "gauge", "Size of an index."},
    {"pgstack_index_valid", "gauge", "0 for an invalid index (a failed concurrent build)."},
    {"pgstack_sequence_used_ratio", "gauge", "Share of a sequence's values used, bounded by the column it feeds."},
    {"pgstack_pg_stat_statements_available", "gauge", "1 when pg_stat_statements can be read in this database."},
    {"pgstack_statement_calls_total", "counter", "Calls of a top statement (pg_stat_statements, never reset here)."},
    {"pgstack_statement_exec_seconds_total", "counter", "Execution time of a top statement."},
    {"pgstack_statement_rows_total", "counter", "Rows returned or changed by a top statement."},
    {"pgstack_statement_blocks_hit_total", "counter", "Shared blocks hit by a top statement."},
    {"pgstack_statement_blocks_read_total", "counter", "Shared blocks read by a top statement."},
    {"pgstack_statement_info", "gauge", "A top statement's text (first 200 characters), by queryid; always 1."},
    {"pgstack_collector_success", "gauge",
     "1 when a group of figures was read in this scrape, 0 when its query failed (the others are still read)."},
};

// Turns rows into samples: the first label_names.size() columns are label values (text;
// a nullptr name skips its column), the next ones values (float8, NULL skipped) of
// families, in order.
void emit(Exposition& out, const pg::Result& rows, const std::string& server,
          std::initializer_list<const char*> label_names, std::initializer_list<const char*> families) {
  for (auto row : rows) {
    Labels labels{{"server", server}};
    int col = 0;
    for (const char* l : label_names) {
      if (l) labels.emplace_back(l, row.get<std::string>(col));
      ++col;
    }
    for (const char* f : families) {
      if (auto v = row.get<std::optional<double>>(col++)) out.sample(f, labels, *v);
    }
  }
}

void collect_activity(pg::Connection& conn, const std::string& server, const CollectOptions& o, Exposition& out) {
  emit(out,
       conn.query("SELECT pg_is_in_recovery()::int::float8, extract(epoch FROM pg_postmaster_start_time())::float8, "
                  "current_setting('max_connections')::float8"),
       server, {}, {"pgstack_in_recovery", "pgstack_start_time_seconds", "pgstack_max_connections"});
  emit(out,
       conn.query("SELECT coalesce(datname::text, ''), CASE state WHEN 'idle in transaction' THEN 'idle_in_transaction' "
                  "  WHEN 'idle in transaction (aborted)' THEN 'idle_in_transaction_aborted' "
                  "  WHEN 'fastpath function call' THEN 'fastpath' ELSE coalesce(state, 'unknown') END, count(*)::float8 "
                  "FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 1, 2"),
       server, {"database", "state"}, {"pgstack_connections"});
  emit(out,
       conn.query("SELECT v.s::text, count(a.pid)::float8 FROM (VALUES (0::float8), (10), (30), (60), (300), ($1)) v(s) "
                  "LEFT JOIN pg_stat_activity a ON a.state LIKE 'idle in transaction%' "
                  "     AND now() - a.state_change > make_interval(secs => v.s) GROUP BY v.s ORDER BY v.s",
                  o.idle_in_transaction_seconds),
       server, {"older_than_seconds"}, {"pgstack_idle_in_transaction_sessions"});
  emit(out,
       conn.query("SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0)::float8, "
                  "       coalesce(max(extract(epoch FROM now() - query_start)) FILTER (WHERE state = 'active'), 0)::float8 "
                  "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"),
       server, {}, {"pgstack_longest_transaction_seconds", "pgstack_longest_query_seconds"});
}

void collect_databases(pg::Connection& conn, const std::string& server, Exposition& out) {
  emit(out,
       conn.query("SELECT d.datname::text, pg_database_size(d.oid)::float8, age(d.datfrozenxid)::float8, "
                  "       s.blks_hit::float8, s.blks_read::float8, s.xact_commit::float8, s.xact_rollback::float8, "
                  "       s.tup_inserted::float8, s.tup_updated::float8, s.tup_deleted::float8, s.deadlocks::float8, "
                  "       s.temp_bytes::float8 "
                  "FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid "
                  "WHERE d.datallowconn AND NOT d.datistemplate ORDER BY 1"),
       server, {"database"},
       {"pgstack_database_size_bytes", "pgstack_database_xid_age", "pgstack_database_blocks_hit_total",
        "pgstack_database_blocks_read_total", "pgstack_database_transactions_committed_total",
        "pgstack_database_transactions_rolled_back_total", "pgstack_database_rows_inserted_total",
        "pgstack_database_rows_updated_total", "pgstack_database_rows_deleted_total", "pgstack_database_deadlocks_total",
        "pgstack_database_temp_bytes_total"});
  emit(out,
       conn.query("SELECT checkpoints_timed::float8, checkpoints_req::float8, buffers_checkpoint::float8, "
                  "       buffers_backend::float8, (SELECT wal_bytes::float8 FROM pg_stat_wal) FROM pg_stat_bgwriter"),
       server, {},
       {"pgstack_checkpoints_timed_total", "pgstack_checkpoints_requested_total",
        "pgstack_checkpoint_buffers_written_total", "pgstack_backend_buffers_written_total", "pgstack_wal_bytes_total"});
}

void collect_replication(pg::Connection& conn, const std::string& server, bool standby, Exposition& out) {
  if (standby) {
    emit(out,
         conn.query(std::string("SELECT ") + doctor::sql::kStandbyLagSeconds + ", " + doctor::sql::kStandbyPendingBytes),
         server, {}, {"pgstack_replication_lag_seconds", "pgstack_replication_lag_bytes"});
    return;
  }
  emit(out,
       conn.query("SELECT application_name::text, "
                  "  CASE WHEN pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) = 0 THEN 0 "
                  "       ELSE coalesce(extract(epoch FROM replay_lag), 0) END::float8, "
                  "  coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 "
                  "FROM pg_stat_replication ORDER BY 1"),
       server, {"standby"}, {"pgstack_replica_replay_lag_seconds", "pgstack_replica_replay_lag_bytes"});
  emit(out,
       conn.query("SELECT slot_name::text, active::int::float8, "
                  "  coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::float8 "
                  "FROM pg_replication_slots ORDER BY 1"),
       server, {"slot"}, {"pgstack_replication_slot_active", "pgstack_replication_slot_retained_bytes"});
  emit(out,
       conn.query("SELECT archived_count::float8, failed_count::float8, extract(epoch FROM last_archived_time)::float8, "
                  "       extract(epoch FROM last_failed_time)::float8 FROM pg_stat_archiver"),
       server, {},
       {"pgstack_archiver_archived_total", "pgstack_archiver_failed_total",
        "pgstack_archiver_last_archived_timestamp_seconds", "pgstack_archiver_last_failed_timestamp_seconds"});
}

void collect_relations(pg::Connection& conn, const std::string& server, Exposition& out) {
  emit(out,
       conn.query("SELECT current_database()::text, schemaname::text, relname::text, n_live_tup::float8, "
                  "  n_dead_tup::float8, pg_total_relation_size(relid)::float8, seq_scan::float8, "
                  "  idx_scan::float8, n_tup_ins::float8, n_tup_upd::float8, n_tup_del::float8, "
                  "  (vacuum_count + autovacuum_count)::float8, "
                  "  extract(epoch FROM greatest(last_vacuum, last_autovacuum))::float8 "
                  "FROM pg_stat_user_tables ORDER BY 2, 3"),
       server, {"database", "schema", "table"},
       {"pgstack_table_live_tuples", "pgstack_table_dead_tuples", "pgstack_table_size_bytes",
        "pgstack_table_seq_scans_total", "pgstack_table_index_scans_total", "pgstack_table_rows_inserted_total",
        "pgstack_table_rows_updated_total", "pgstack_table_rows_deleted_total", "pgstack_table_vacuums_total",
        "pgstack_table_last_vacuum_timestamp_seconds"});
  emit(out,
       conn.query("SELECT current_database()::text, s.schemaname::text, s.relname::text, s.indexrelname::text, "
                  "  s.idx_scan::float8, pg_relation_size(s.indexrelid)::float8, i.indisvalid::int::float8 "
                  "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid ORDER BY 2, 3, 4"),
       server, {"database", "schema", "table", "index"},
       {"pgstack_index_scans_total", "pgstack_index_size_bytes", "pgstack_index_valid"});
  emit(out,
       conn.query(std::string("SELECT current_database()::text, q.* FROM (") + doctor::sql::kSequenceUsage + ") q"),
       server, {"database", "schema", "sequence", nullptr}, {"pgstack_sequence_used_ratio"});
}

void collect_statements(pg::Connection& conn, const std::string& server, const CollectOptions& o, Exposition& out) {
  bool available = false;
  if (auto view = doctor::statements_view(conn)) {
    try {
      // Ranked without the texts (pg_stat_statements(false) skips reading the text
      // file), then the texts of the top ones only.
      auto rows = conn.query(
          "WITH top AS (SELECT userid, dbid, queryid, toplevel, calls, total_exec_time, rows, shared_blks_hit, "
          "                    shared_blks_read "
          "             FROM " + *view + "(false) ORDER BY total_exec_time DESC LIMIT $1) "
          "SELECT coalesce(d.datname::text, ''), coalesce(r.rolname::text, ''), t.queryid::text, "
          "       left(regexp_replace(coalesce(s.query, ''), '\\s+', ' ', 'g'), 200), t.calls::float8, "
          "       (t.total_exec_time / 1000)::float8, t.rows::float8, t.shared_blks_hit::float8, "
          "       t.shared_blks_read::float8 "
          "FROM top t LEFT JOIN pg_database d ON d.oid = t.dbid LEFT JOIN pg_roles r ON r.oid = t.userid "
          "LEFT JOIN " + *view + " s ON s.userid = t.userid AND s.dbid = t.dbid AND s.queryid = t.queryid "
          "     AND s.toplevel = t.toplevel "
          "ORDER BY t.total_exec_time DESC",
          o.top_statements);
      available = true;
      for (auto row : rows) {
        Labels labels{{"server", server}, {"database", row.get<std::string>(0)}, {"user", row.get<std::string>(1)},
                      {"queryid", row.get<std::string>(2)}};
        out.sample("pgstack_statement_calls_total", labels, row.get<double>(4));
        out.sample("pgstack_statement_exec_seconds_total", labels, row.get<double>(5));
        out.sample("pgstack_statement_rows_total", labels, row.get<double>(6));
        out.sample("pgstack_statement_blocks_hit_total", labels, row.get<double>(7));
        out.sample("pgstack_statement_blocks_read_total", labels, row.get<double>(8));
        auto info = labels;
        info.emplace_back("query", row.get<std::string>(3));
        out.sample("pgstack_statement_info", info, 1);
      }
    } catch (const pg::SqlError& e) {
      if (e.sqlstate() != "55000") throw;  // "must be loaded via shared_preload_libraries"
    }
  }
  out.sample("pgstack_pg_stat_statements_available", {{"server", server}}, available ? 1 : 0);
}

}  // namespace

void declare_server_families(Exposition& out) {
  for (const auto& f : kFamilies) out.family(f.name, f.type, f.help);
}

void collect_server(pg::Connection& conn, const std::string& server, const CollectOptions& options, Exposition& out) {
  declare_server_families(out);
  const bool standby = conn.query_value<bool>("SELECT pg_is_in_recovery()");
  // Each group into an exposition of its own, merged only when it all read: a query
  // that fails (a privilege missing, a catalog oddity) loses its own figures, never the
  // server's scrape or its pgstack_up. A lost connection still fails the whole scrape.
  const std::pair<std::string, std::function<void(Exposition&)>> groups[] = {
      {"activity", [&](Exposition& e) { collect_activity(conn, server, options, e); }},
      {"databases", [&](Exposition& e) { collect_databases(conn, server, e); }},
      {"replication", [&](Exposition& e) { collect_replication(conn, server, standby, e); }},
      {"relations", [&](Exposition& e) { collect_relations(conn, server, e); }},
      {"statements", [&](Exposition& e) { collect_statements(conn, server, options, e); }},
  };
  std::vector<std::pair<std::string, std::function<void(Exposition&)>>> collectors(std::begin(groups), std::end(groups));
  // The capabilities' figures, from the primary only: a standby holds the same queues
  // (and no unlogged rows), and summing both would count every job twice.
  if (!standby) {
    const auto functions = capability::contract_functions(conn);
    for (const auto& c : capability::capabilities()) {
      if (std::find(functions.begin(), functions.end(), c.name + "_metrics") == functions.end()) continue;
      collectors.emplace_back(c.name, [&conn, &server, &c](Exposition& e) {
        capability::collect_metrics(conn, c, {{"server", server}}, e);
      });
    }
  }
  for (const auto& [name, collect] : collectors) {
    Exposition part;
    declare_server_families(part);
    bool ok = true;
    try {
      collect(part);
    } catch (const pg::ConnectionError&) {
      throw;
    } catch (const pgstack::Error&) {
      ok = false;
    }
    if (ok) out.merge(std::move(part));
    out.sample("pgstack_collector_success", {{"server", server}, {"collector", name}}, ok ? 1 : 0);
  }
}

}  // namespace pgstack::metrics

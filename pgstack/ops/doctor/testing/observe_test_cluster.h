// For the observability tests: a PostgreSQL 15 of their own whose settings make alerts
// quick to induce for real: shared_buffers small enough that a 16 MB table misses the
// cache, autovacuum off so dead rows stay until the test vacuums, pg_stat_statements
// loaded. Its template database has every pgstack module and pg_stat_statements.
//
//   auto db = pgstack::doctor::observe_cluster().create_database();
//   pgstack::doctor::flush_stats(conn);   // this session's counters, visible now
#pragma once

#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::doctor {

inline pgstack::testing::TestCluster& observe_cluster() {
  static pgstack::testing::TestCluster cluster({.settings = {"shared_buffers = 8MB", "autovacuum = off",
                                                             "shared_preload_libraries = 'pg_stat_statements'",
                                                             "pg_stat_statements.track = all"}});
  cluster.prepare_template([](pg::Connection& conn) {
    schema::MigrationRunner runner(conn);
    runner.apply(schema::builtin_module_list());
    conn.execute_script("CREATE EXTENSION pg_stat_statements");
  });
  return cluster;
}

// Statistics reach the shared counters at most once a second; this makes the session's
// pending ones visible by the time the call returns.
inline void flush_stats(pg::Connection& conn) {
  conn.query("SELECT pg_stat_force_next_flush()");
  conn.query("SELECT 1");
}

}  // namespace pgstack::doctor

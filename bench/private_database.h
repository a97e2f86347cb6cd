// For benchmarks run without --dsn (as their smoke tests run them): a throwaway
// database on a private test server, with every pgstack module installed. It is
// dropped, and the server stopped, when the returned object goes.
//
//   auto private_db = pgstack::bench::private_database_unless_given(options.dsn);
//   run(options);   // options.dsn now names a database either way
#pragma once

#include <optional>
#include <string>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::bench {

inline std::optional<pgstack::testing::TestDatabase> private_database_unless_given(std::string& dsn) {
  if (!dsn.empty()) return std::nullopt;
  std::optional<pgstack::testing::TestDatabase> db(pgstack::testing::TestCluster::shared().create_database());
  dsn = db->dsn();
  pg::Connection conn(dsn);
  schema::MigrationRunner(conn).apply(schema::builtin_module_list());
  return db;
}

}  // namespace pgstack::bench

// For workload tests: the shared test cluster whose template database has every
// pgstack module installed, so each test's database starts with the schemas.
//
//   auto db = pgstack::schema::cluster_with_schemas().create_database();
//   pgstack::pg::Connection conn(db.dsn());
//   conn.query("select pgstack.kv_set('default', 'k', 'v')");
#pragma once

#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::schema {

inline pgstack::testing::TestCluster& cluster_with_schemas() {
  auto& cluster = pgstack::testing::TestCluster::shared();
  cluster.prepare_template([](pg::Connection& conn) {
    MigrationRunner runner(conn);
    runner.apply(builtin_module_list());
  });
  return cluster;
}

}  // namespace pgstack::schema

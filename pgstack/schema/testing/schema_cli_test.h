// For a capability's CLI tests: a database of the shared schema cluster
// (schema_test_cluster.h) and the built pgstack binary pointed at it, as a user runs it.
// The test binary defines PGSTACK_CLI_PATH (target_compile_definitions in its
// CMakeLists.txt) and depends on the pgstack target.
//
//   class KvCliTest : public pgstack::schema::SchemaCliTest {};
//   TEST_F(KvCliTest, Get) { EXPECT_EQ(cli({"kv", "get", "k"}).code, 1); }
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/cli_runner.h"

#ifndef PGSTACK_CLI_PATH
#error "schema_cli_test.h: define PGSTACK_CLI_PATH for this test binary (the built pgstack)"
#endif

namespace pgstack::schema {

class SchemaCliTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = cluster_with_schemas().create_database();
  pg::Connection conn_{db_.dsn()};

  // `pgstack <args> --db <this test's database>`: exit code and combined output.
  pgstack::testing::CliResult cli(std::vector<std::string> args) {
    args.push_back("--db");
    args.push_back(db_.dsn());
    return pgstack::testing::run_cli(PGSTACK_CLI_PATH, args);
  }
};

}  // namespace pgstack::schema

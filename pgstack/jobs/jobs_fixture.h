// Test fixture for the job queue: a database of its own per test, cloned from a
// template that has pgstack's schemas (core and jobs) installed.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::jobs {

inline pgstack::testing::TestCluster& jobs_cluster() {
  auto& cluster = pgstack::testing::TestCluster::shared();
  cluster.prepare_template([](pg::Connection& conn) {
    schema::MigrationRunner runner(conn);
    runner.apply(schema::builtin_module_list());
  });
  return cluster;
}

class JobsTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = jobs_cluster().create_database();
  pg::Connection conn_{db_.dsn()};

  std::int64_t count(const std::string& sql) { return conn_.query_value<std::int64_t>(sql); }
  std::string state_of(std::int64_t id) {
    return conn_.query_optional<std::string>("select pgstack.job_state($1)", id).value_or("(none)");
  }
  // Polls until pred() holds or the timeout passes; returns pred()'s last value.
  static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
  }
};

}  // namespace pgstack::jobs

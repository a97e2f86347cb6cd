// Test fixture for the job queue: a database of its own per test, cloned from a
// template that has pgstack's schemas (core and jobs) installed.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::jobs {

inline pgstack::testing::TestCluster& jobs_cluster() { return schema::cluster_with_schemas(); }

class JobsTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = jobs_cluster().create_database();
  pg::Connection conn_{db_.dsn()};

  std::int64_t count(const std::string& sql) { return conn_.query_value<std::int64_t>(sql); }
  std::string state_of(std::int64_t id) {
    return conn_.query_optional<std::string>("select pgstack.job_state($1)", id).value_or("(none)");
  }
  static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return pgstack::testing::eventually(pred, timeout);
  }
};

}  // namespace pgstack::jobs

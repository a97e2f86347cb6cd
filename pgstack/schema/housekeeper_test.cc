// pgstack.maintain() and the Housekeeper: registered tasks run when due, a failing
// task is recorded without stopping the others.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "pgstack/schema/housekeeper.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::schema {
namespace {

using namespace std::chrono_literals;

class HousekeeperTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = cluster_with_schemas().create_database();
  pg::Connection conn_{db_.dsn()};

  void SetUp() override {
    // Only this test's tasks: the workloads' own are pushed into the future.
    conn_.query("update pgstack.maintenance_tasks set next_run_at = now() + interval '1 day'");
    conn_.execute_script(R"(
      create table ticks (n int);
      -- A task runs with maintain()'s search_path (pg_catalog, pgstack, pg_temp): it names
      -- its own schema, or pins a search_path of its own.
      create function tick() returns bigint language sql set search_path = public
        as $$ insert into ticks values (1) returning 1::bigint $$;
      create function broken() returns bigint language plpgsql as $$ begin raise exception 'disk on fire'; end $$;
      select pgstack.register_maintenance_task('tick', 'tick()', interval '200 milliseconds');
      select pgstack.register_maintenance_task('broken', 'broken()', interval '1 hour');
    )");
  }
  std::int64_t ticks() { return conn_.query_value<std::int64_t>("select count(*) from ticks"); }
};

TEST_F(HousekeeperTest, DueTasksRunOnceAndAFailureIsRecordedWithoutStoppingOthers) {
  auto runs = run_due_maintenance(conn_);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(ticks(), 1);
  for (const auto& run : runs) {
    if (run.task == "broken") {
      ASSERT_TRUE(run.error.has_value());
      EXPECT_NE(run.error->find("disk on fire"), std::string::npos);
    } else {
      EXPECT_EQ(run.task, "tick");
      EXPECT_EQ(run.result, 1);
      EXPECT_FALSE(run.error.has_value());
    }
  }
  EXPECT_EQ(conn_.query_value<std::string>("select last_error from pgstack.maintenance_tasks where name = 'broken'"),
            "disk on fire");
  // Nothing is due again until its interval has passed.
  EXPECT_TRUE(run_due_maintenance(conn_).empty());
  EXPECT_EQ(ticks(), 1);
}

TEST_F(HousekeeperTest, AHousekeeperThreadRunsTasksAtTheirInterval) {
  Housekeeper housekeeper({.dsn = db_.dsn(), .poll_interval = 50ms, .log = [](const std::string&) {}});
  const auto started = std::chrono::steady_clock::now();
  housekeeper.start();
  EXPECT_TRUE(pgstack::testing::eventually([&] { return ticks() >= 4; }, 10s));
  // At most one run per 200 ms interval: the 4th run came 600 ms after the first at least.
  EXPECT_GE(std::chrono::steady_clock::now() - started, 580ms);
  housekeeper.stop();
  const auto after_stop = ticks();
  std::this_thread::sleep_for(400ms);  // time passing: two intervals in which a run would have come
  EXPECT_EQ(ticks(), after_stop);
  EXPECT_GE(housekeeper.runs(), 4u);
}

}  // namespace
}  // namespace pgstack::schema

// The stack's hot standby, end to end: `up` makes it from the primary, it streams,
// it is read-only, a killed standby comes back with the next `up`, and `down`/`up`
// keeps everything.
#include "pgstack/ops/stack/standby.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/ops/stack/replication.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/ops/stack/testing/stack_fixture.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The stack is tuned for a 1GB host and each server takes settings of its own, so the
// tests below see both reach the servers through pgstack.toml.
constexpr const char* kPgstackToml = R"(
[tune]
memory = "1GB"
cpus = 2
[primary.settings]
work_mem = "12MB"
log_min_duration_statement = 250
[standby.settings]
statement_timeout = "30s"
)";

class StandbyStackTest : public StackFixture {
 protected:
  static void SetUpTestSuite() { start_stack(kPgstackToml); }
  static std::string standby_dsn() { return layout().dsn(layout().standby()); }
};

// Primary and standby share the host: together they take the 1/4 of its memory one
// server would, and each says so in its pgstack.conf.
TEST_F(StandbyStackTest, TheTwoServersSplitTheHostsMemoryBudget) {
  pg::Connection primary(layout().dsn(nullptr, "postgres"));
  pg::Connection standby(layout().dsn(layout().standby(), "postgres"));
  auto bytes = [](pg::Connection& c, const char* name) {
    return c.query_value<std::int64_t>(
        "select setting::bigint * case unit when '8kB' then 8192 when 'kB' then 1024 when 'MB' then 1048576 end "
        "from pg_settings where name = $1",
        name);
  };
  const std::int64_t budget = (1ll << 30) / 4;
  EXPECT_LE(bytes(primary, "shared_buffers") + bytes(standby, "shared_buffers"), budget);
  EXPECT_EQ(bytes(primary, "shared_buffers"), 128ll << 20);
  EXPECT_LE(bytes(primary, "effective_cache_size") + bytes(standby, "effective_cache_size"), 3 * budget);
  auto conf = pgstack::read_text_file(PostgresServer(layout(), *layout().standby()).config_file());
  EXPECT_NE(conf.find("2 servers share the host"), std::string::npos) << conf;
}

TEST_F(StandbyStackTest, EachServersSettingsFromPgstackTomlReachShow) {
  pg::Connection primary(layout().dsn(nullptr, "postgres"));
  pg::Connection standby(layout().dsn(layout().standby(), "postgres"));
  EXPECT_EQ(primary.query_value<std::string>("show work_mem"), "12MB");
  EXPECT_EQ(primary.query_value<std::string>("show log_min_duration_statement"), "250ms");
  EXPECT_EQ(standby.query_value<std::string>("show statement_timeout"), "30s");
  EXPECT_EQ(primary.query_value<std::string>("show statement_timeout"), "0") << "[standby.settings] is the standby's only";
  EXPECT_NE(standby.query_value<std::string>("show work_mem"), "12MB") << "[primary.settings] is the primary's only";
}

TEST_F(StandbyStackTest, UpMakesAStreamingReadOnlyStandby) {
  ASSERT_NE(layout().standby(), nullptr);
  EXPECT_EQ(layout().standby()->port, layout().primary().port + 1);
  pg::Connection standby(standby_dsn());
  EXPECT_TRUE(standby.query_value<bool>("select pg_is_in_recovery()"));
  EXPECT_THROW(standby.execute_script("create table not_here(id int)"), pg::InvalidTransactionState);
  pg::Connection primary(layout().dsn(nullptr, "postgres"));
  EXPECT_EQ(primary.query_value<std::string>(
                "select state from pg_stat_replication where application_name = 'pgstack-standby'"),
            "streaming");
  EXPECT_TRUE(primary.query_value<bool>(
      "select active from pg_replication_slots where slot_name = $1", replication_slot(*layout().standby())));
}

TEST_F(StandbyStackTest, AWriteOnThePrimaryIsOnTheStandbyWithinOneSecond) {
  pg::Connection primary(layout().dsn());
  primary.execute_script("create table if not exists orders(id bigint primary key)");
  const auto id = primary.query_value<std::int64_t>("insert into orders select coalesce(max(id), 0) + 1 from orders returning id");
  const auto written = Clock::now();
  pg::Connection standby(standby_dsn());
  bool seen = false;
  while (!seen && Clock::now() - written < 1s) {
    seen = standby.query_value<bool>("select exists (select 1 from pg_class where relname = 'orders')") &&
           standby.query_value<bool>("select exists (select 1 from orders where id = $1)", id);
    if (!seen) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(seen) << "the row was not on the standby a second after its commit";
}

TEST_F(StandbyStackTest, ReplicationStatusShowsTheStandbyCaughtUp) {
  pg::Connection primary(layout().dsn(nullptr, "postgres"));
  primary.execute_script("checkpoint");  // some WAL to replay
  std::vector<ReplicaStatus> seen;
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
    seen = replicas(primary);
    if (seen.size() == 1 && seen[0].lag_bytes == 0) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "pgstack-standby");
  EXPECT_EQ(seen[0].state, "streaming");
  EXPECT_EQ(seen[0].sync_state, "async");
  EXPECT_EQ(seen[0].lag_bytes, 0);
  EXPECT_EQ(seen[0].lag_seconds, 0);
  auto slots = replication_slots(primary);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].name, "pgstack_standby");
  EXPECT_TRUE(slots[0].active);
}

TEST_F(StandbyStackTest, UpOnARunningStackChangesNothing) {
  auto again = up({.dir = root_ / "stack"});
  EXPECT_TRUE(again.actions.empty()) << again.actions.front();
}

TEST_F(StandbyStackTest, KilledStandbyIsRestartedByUpAndCatchesUp) {
  PostgresServer server(layout(), *layout().standby());
  const pid_t pid = server.state().pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (auto deadline = Clock::now() + 10s; sys::process_alive(pid) && Clock::now() < deadline;)
    std::this_thread::sleep_for(20ms);
  pg::Connection primary(layout().dsn());
  primary.execute_script("create table if not exists while_down(id int); insert into while_down values (1)");

  auto again = up({.dir = root_ / "stack"});
  bool restarted = false;
  for (const auto& a : again.actions) restarted = restarted || a.find("started the standby") != std::string::npos;
  EXPECT_TRUE(restarted);
  pg::Connection standby(standby_dsn());
  bool caught_up = false;
  for (auto deadline = Clock::now() + 10s; !caught_up && Clock::now() < deadline;) {
    caught_up = standby.query_value<bool>("select to_regclass('while_down') is not null");
    if (!caught_up) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(caught_up);
}

TEST_F(StandbyStackTest, DownThenUpKeepsBothServersData) {
  pg::Connection(layout().dsn()).execute_script("create table if not exists kept(id int); insert into kept values (7)");
  auto stopped = down({.dir = root_ / "stack"});
  EXPECT_TRUE(stopped.was_running);
  EXPECT_FALSE(PostgresServer(layout(), *layout().standby()).state().running);
  EXPECT_FALSE(PostgresServer(layout(), layout().primary()).state().running);
  up({.dir = root_ / "stack"});
  pg::Connection standby(standby_dsn());
  EXPECT_GE(standby.query_value<std::int64_t>("select count(*) from kept"), 1);
}

}  // namespace
}  // namespace pgstack::stack

// PgBouncer in the stack, end to end against a real stack in a temp folder: the `app`
// role through PgBouncer over TLS reaches the primary, `app_ro` lands on the standby,
// TCP without TLS and the superuser are turned away, the roles' timeouts hold through
// the pooler, many clients share at most default_pool_size server connections, and a
// killed PgBouncer is restarted by the next `up`.
#include "pgstack/ops/stack/pgbouncer.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/roles.h"
#include "pgstack/ops/stack/testing/stack_fixture.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PgBouncerTest : public StackFixture {
 protected:
  // Behind a transaction pooler the driver must not keep prepared statements.
  static pg::Connection pooled(const std::string& role, bool read_only = false) {
    return pg::Connection(pg::ConnectOptions{.dsn = layout().pooled_dsn(role, read_only), .statement_cache = false});
  }
};

TEST_F(PgBouncerTest, AppThroughPgBouncerOverTlsWritesOnThePrimary) {
  EXPECT_EQ(layout().pgbouncer.port, layout().primary().port + 2);
  auto app = pooled("app");
  EXPECT_TRUE(app.uses_tls()) << "the client's link to PgBouncer is not TLS";
  EXPECT_FALSE(app.query_value<bool>("select pg_is_in_recovery()"));
  EXPECT_EQ(app.query_value<std::string>("select current_user"), "app");
  EXPECT_EQ(app.query_value<std::string>("select current_setting('port')"), std::to_string(layout().primary().port));
  // Parameters work without prepared statements (unnamed statements only).
  EXPECT_EQ(app.query_value<std::int64_t>("select $1::bigint * 2", std::int64_t{21}), 42);
}

TEST_F(PgBouncerTest, AppRoReadsFromTheStandbyAndCannotWrite) {
  pg::Connection admin(layout().dsn());
  admin.execute_script("create table notes(id bigint primary key, body text); grant select on notes to readonly");
  admin.query("insert into notes values (1, 'written on the primary')");
  auto reader = pooled("app_reader", /*read_only=*/true);
  EXPECT_TRUE(reader.query_value<bool>("select pg_is_in_recovery()"));
  EXPECT_EQ(reader.query_value<std::string>("select current_setting('port')"),
            std::to_string(layout().standby()->port));
  std::optional<std::string> body;
  for (int i = 0; i < 100 && !body; ++i) {
    try {
      body = reader.query_optional<std::string>("select body from notes where id = 1");
    } catch (const pg::SqlError&) {
      // The table itself may not have replayed yet.
    }
    if (!body) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(body, "written on the primary");
  EXPECT_THROW(reader.query("insert into notes values (2, 'no')"), pg::SqlError);
}

TEST_F(PgBouncerTest, PlainTcpWrongPasswordsAndTheSuperuserAreTurnedAway) {
  const auto port = std::to_string(layout().pgbouncer.port);
  const auto passfile = layout().credentials_file().string();
  auto connect = [](const std::string& dsn) { pg::Connection c(pg::ConnectOptions{.dsn = dsn, .statement_cache = false}); };
  try {
    connect("host=127.0.0.1 port=" + port + " dbname=app user=app sslmode=disable passfile=" + passfile);
    FAIL() << "PgBouncer accepted TCP without TLS";
  } catch (const pg::ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("SSL required"), std::string::npos) << e.what();
  }
  EXPECT_THROW(connect("host=127.0.0.1 port=" + port + " dbname=app user=app sslmode=require password=wrong"),
               pg::ConnectionError);
  // The superuser uses the socket; PgBouncer's TCP port is for the application roles.
  EXPECT_THROW(connect("host=127.0.0.1 port=" + port + " dbname=app user=postgres sslmode=require passfile=" + passfile),
               pg::ConnectionError);
}

TEST_F(PgBouncerTest, RoleTimeoutsHoldThroughTheTransactionPooler) {
  pg::Connection admin(layout().dsn());
  for (const auto& role : stack_roles()) {
    if (!role.login || role.name == "migrations") continue;
    auto conn = pooled(role.name, /*read_only=*/role.name == "app_reader");
    for (const auto& [name, value] : role.settings)
      // set_config answers in the server's own units ("60s" reads back as "1min").
      EXPECT_EQ(conn.query_value<std::string>("select current_setting($1)", name),
                admin.query_value<std::string>("select set_config($1, $2, true)", name, value))
          << role.name << "'s " << name << " did not hold through PgBouncer";
  }
}

TEST_F(PgBouncerTest, FortyClientsShareAtMostThePoolSizeOfServerConnections) {
  const int clients = 40;
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::atomic<int> most_servers{0};
  std::atomic<bool> running{true};
  std::thread watcher([&] {
    pg::Connection admin(layout().dsn());
    while (running) {
      int n = static_cast<int>(admin.query_value<std::int64_t>(
          "select count(*) from pg_stat_activity where usename = 'app' and backend_type = 'client backend'"));
      for (int seen = most_servers; n > seen && !most_servers.compare_exchange_weak(seen, n);) {
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&] {
      try {
        auto app = pooled("app");
        for (int t = 0; t < 5; ++t) app.query("select pg_sleep(0.05)");
        ++done;
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& t : threads) t.join();
  running = false;
  watcher.join();
  EXPECT_EQ(done, clients);
  EXPECT_EQ(failures, 0);
  EXPECT_GT(most_servers, 1) << "the clients did not run side by side";
  EXPECT_LE(most_servers, layout().pgbouncer.default_pool_size) << "PgBouncer opened more server connections than its pool";
  auto pools = pgbouncer_pools(layout());
  auto app_pool = std::find_if(pools.begin(), pools.end(), [&](const PoolStatus& p) {
    return p.database == layout().pooled_database(false) && p.user == "app";
  });
  ASSERT_NE(app_pool, pools.end());
  EXPECT_EQ(app_pool->pool_mode, "transaction");
  EXPECT_LE(app_pool->servers_active + app_pool->servers_idle + app_pool->servers_used,
            layout().pgbouncer.default_pool_size);
}

TEST_F(PgBouncerTest, AKilledPgBouncerIsRestartedByUpAndDownStopsIt) {
  auto st = pgbouncer_state(layout());
  ASSERT_TRUE(st.running);
  ASSERT_EQ(::kill(st.pid, SIGKILL), 0);
  for (int i = 0; i < 100 && sys::process_alive(st.pid); ++i) std::this_thread::sleep_for(20ms);
  auto killed = stack::status(layout().dir);
  EXPECT_FALSE(killed.running);
  auto again = up({.dir = layout().dir});
  EXPECT_TRUE(pgbouncer_state(layout()).running);
  EXPECT_NE(pgbouncer_state(layout()).pid, st.pid);
  bool restarted = false;
  for (const auto& a : again.actions) restarted = restarted || a.find("started PgBouncer") != std::string::npos;
  EXPECT_TRUE(restarted) << "up did not say it restarted PgBouncer";
  EXPECT_EQ(pooled("app").query_value<std::int32_t>("select 1"), 1);
  // A second up changes nothing.
  EXPECT_FALSE(up({.dir = layout().dir}).changed());
  down({.dir = layout().dir});
  EXPECT_FALSE(pgbouncer_state(layout()).running);
  EXPECT_FALSE(sys::port_in_use(layout().pgbouncer.port));
  up({.dir = layout().dir});  // the suite's stack is shared: leave it as it was found
  EXPECT_TRUE(pgbouncer_state(layout()).running);
}

}  // namespace
}  // namespace pgstack::stack

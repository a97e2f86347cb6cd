// Pool: bounded, blocking with a timeout, safe under many threads, cleaning and
// discarding returned connections, surviving a server restart, and routing reads to a
// real hot standby (made with pg_basebackup) within a lag limit.
#include "pgstack/pg/pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "pgstack/sys/process.h"
#include "pgstack/testing/eventually.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using namespace std::chrono_literals;
using pgstack::testing::TestCluster;
using Clock = std::chrono::steady_clock;

// The first value of a one-row result. Pool::query and Pool::read return a temporary, and
// a Row taken from a temporary does not compile (result.h): the reference keeps it alive.
template <class T>
T first_value(const Result& result) {
  return result[0].get<T>(0);
}

class PoolTest : public ::testing::Test {
 protected:
  std::int64_t connections_named(const std::string& application_name) {
    return observer.query_value<std::int64_t>("select count(*) from pg_stat_activity where application_name = $1",
                                              application_name);
  }

  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection observer{db.dsn()};
};

TEST_F(PoolTest, NeverOpensMoreThanMaxSize) {
  Pool pool({.primary = db.dsn(), .max_size = 3, .application_name = "bounded_pool"});
  std::atomic<std::int64_t> most_seen{0};
  std::vector<std::future<void>> workers;
  for (int t = 0; t < 8; ++t)
    workers.push_back(std::async(std::launch::async, [&] {
      for (int i = 0; i < 15; ++i) {
        auto conn = pool.acquire();
        conn.query("select pg_sleep(0.005)");
        const auto seen = conn.query_value<std::int64_t>(
            "select count(*) from pg_stat_activity where application_name = 'bounded_pool'");
        for (auto prev = most_seen.load(); seen > prev && !most_seen.compare_exchange_weak(prev, seen);) {
        }
      }
    }));
  for (auto& w : workers) w.get();
  EXPECT_LE(most_seen.load(), 3);
  EXPECT_GE(most_seen.load(), 2);  // the threads did share it
  EXPECT_LE(connections_named("bounded_pool"), 3);
  EXPECT_LE(pool.stats().connections_opened, 3u);
}

// Two threads, each with a connection; the other thread gives its back last. A
// plain LIFO would hand it to the first thread; the pool gives each thread back the
// connection (and so the server process) it had, which keeps CPU placement stable.
TEST_F(PoolTest, AThreadGetsBackTheConnectionItGaveBack) {
  Pool pool({.primary = db.dsn(), .max_size = 2});
  auto mine = pool.acquire();
  const int my_pid = mine->backend_pid();
  std::promise<void> theirs_taken, mine_returned;
  auto theirs_pid = std::async(std::launch::async, [&] {
    auto theirs = pool.acquire();
    const int pid = theirs->backend_pid();
    theirs_taken.set_value();
    mine_returned.get_future().wait();
    return pid;  // theirs goes back last, when this returns
  });
  theirs_taken.get_future().wait();
  { auto done = std::move(mine); }
  mine_returned.set_value();
  const int other_pid = theirs_pid.get();
  ASSERT_NE(other_pid, my_pid);
  EXPECT_EQ(pool.acquire()->backend_pid(), my_pid);  // and gives it back: now the most recent
  // A thread that never used the pool gets the most recently returned one.
  EXPECT_EQ(std::async(std::launch::async, [&] { return pool.acquire()->backend_pid(); }).get(), my_pid);
}

TEST_F(PoolTest, AcquireBlocksThenTimesOutWithPoolTimeout) {
  Pool pool({.primary = db.dsn(), .max_size = 1, .acquire_timeout = 300ms});
  auto held = pool.acquire();
  const auto start = Clock::now();
  try {
    pool.acquire();
    FAIL() << "got a second connection from a pool of one";
  } catch (const PoolTimeout& e) {
    EXPECT_NE(std::string(e.what()).find("max_size"), std::string::npos) << e.what();
  }
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 2s);
}

TEST_F(PoolTest, BlockedAcquireGetsTheConnectionWhenItIsReturned) {
  Pool pool({.primary = db.dsn(), .max_size = 1, .acquire_timeout = 5s});
  auto held = pool.acquire();
  const int pid = held->backend_pid();
  auto releaser = std::async(std::launch::async, [&] {
    // Given back only once the main thread is blocked in acquire().
    const bool blocked = pgstack::testing::eventually([&] { return pool.stats().waiting == 1; }, 5s);
    held.release();
    return blocked;
  });
  auto next = pool.acquire();
  EXPECT_TRUE(releaser.get()) << "acquire() did not wait for the held connection";
  EXPECT_EQ(next->backend_pid(), pid);  // the same connection, reused
}

TEST_F(PoolTest, ManyThreadsRunTransactionsConcurrently) {
  observer.execute_script("create table counter(n int); insert into counter values (0)");
  Pool pool({.primary = db.dsn(), .max_size = 4, .acquire_timeout = 20s});
  std::vector<std::future<void>> workers;
  for (int t = 0; t < 12; ++t)
    workers.push_back(std::async(std::launch::async, [&] {
      for (int i = 0; i < 25; ++i) {
        auto tx = pool.begin();
        tx.query("update counter set n = n + 1");
        tx.commit();
      }
    }));
  for (auto& w : workers) w.get();
  EXPECT_EQ(observer.query_value<std::int32_t>("select n from counter"), 12 * 25);
  const auto stats = pool.stats();
  EXPECT_LE(stats.connections_opened, 4u);
  EXPECT_EQ(stats.endpoints[0].in_use, 0u);
}

TEST_F(PoolTest, ConnectionReturnedInsideATransactionIsRolledBackBeforeReuse) {
  observer.execute_script("create table t(x int)");
  Pool pool({.primary = db.dsn(), .max_size = 1});
  int pid = 0;
  {
    auto conn = pool.acquire();
    pid = conn->backend_pid();
    conn->execute_script("begin; insert into t values (1)");
    EXPECT_EQ(conn->transaction_status(), TransactionStatus::in_transaction);
  }
  {
    auto conn = pool.acquire();
    EXPECT_EQ(conn->backend_pid(), pid);
    EXPECT_EQ(conn->transaction_status(), TransactionStatus::idle);
    EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from t"), 0);
    conn->execute_script("begin");
    EXPECT_THROW(conn.query("select 1 / 0"), DataException);  // returned in a failed transaction
  }
  auto conn = pool.acquire();
  EXPECT_EQ(conn->backend_pid(), pid);
  EXPECT_EQ(conn->transaction_status(), TransactionStatus::idle);
  EXPECT_EQ(conn.query_value<std::int32_t>("select 1"), 1);
}

TEST_F(PoolTest, UncommittedPoolTransactionRollsBack) {
  observer.execute_script("create table t(x int)");
  Pool pool({.primary = db.dsn(), .max_size = 1});
  {
    auto tx = pool.begin();
    tx.query("insert into t values (1)");
  }
  EXPECT_EQ(pool.stats().endpoints[0].idle, 1u);
  EXPECT_EQ(first_value<std::int64_t>(pool.query("select count(*) from t")), 0);
}

TEST_F(PoolTest, BrokenConnectionIsDiscardedAndReplaced) {
  Pool pool({.primary = db.dsn(), .max_size = 1});
  int pid = 0;
  {
    auto conn = pool.acquire();
    pid = conn->backend_pid();
    observer.query("select pg_terminate_backend($1)", pid);
    observer.query("select pg_sleep(0.1)");
    EXPECT_THROW(conn.query("select 1"), ConnectionLost);
  }
  EXPECT_EQ(pool.stats().connections_discarded, 1u);
  auto conn = pool.acquire();
  EXPECT_NE(conn->backend_pid(), pid);
  EXPECT_EQ(conn.query_value<std::int32_t>("select 1"), 1);
}

TEST_F(PoolTest, ConnectionKilledWhileIdleIsReplacedWithoutAnError) {
  Pool pool({.primary = db.dsn(), .max_size = 2});
  int pid = pool.acquire()->backend_pid();
  observer.query("select pg_terminate_backend($1)", pid);
  observer.query("select pg_sleep(0.1)");
  auto conn = pool.acquire();
  EXPECT_NE(conn->backend_pid(), pid);
  EXPECT_EQ(conn.query_value<std::int32_t>("select 1"), 1);
  EXPECT_EQ(pool.stats().connections_discarded, 1u);
}

TEST_F(PoolTest, UnreachableServerIsAConnectionErrorNotATimeout) {
  const int port = sys::free_tcp_port();
  Pool pool({.primary = fmt::format("host=127.0.0.1 port={} user=postgres", port), .max_size = 1});
  EXPECT_THROW(pool.acquire(), ConnectionError);
  EXPECT_THROW(pool.acquire(), ConnectionError);  // the failed open did not use up the slot
  EXPECT_THROW(Pool({.primary = "host=x port"}), UsageError);
  EXPECT_THROW(Pool({.primary = db.dsn(), .max_size = 0}), UsageError);
}

TEST(PoolRestart, RecoversWithAtMostOneErrorPerLostConnection) {
  TestCluster cluster;
  auto db = cluster.create_database();
  Pool pool({.primary = db.dsn(), .max_size = 4});
  // Two connections lent out across the restart, two idle in the pool.
  std::vector<PooledConnection> lent;
  for (int i = 0; i < 4; ++i) lent.push_back(pool.acquire());
  for (auto& c : lent) c.query("select 1");
  lent.pop_back();
  lent.pop_back();
  ASSERT_EQ(pool.stats().endpoints[0].idle, 2u);

  cluster.restart();

  int errors = 0;
  for (auto& c : lent) {
    try {
      c.query("select 1");
    } catch (const ConnectionLost&) {
      ++errors;
    }
    c.release();
  }
  EXPECT_EQ(errors, 2);  // one per connection that was in a caller's hands
  // Everything after that succeeds: the idle ones are found dead and replaced unseen.
  std::vector<std::future<int>> callers;
  for (int t = 0; t < 4; ++t)
    callers.push_back(std::async(std::launch::async, [&] {
      int failures = 0;
      for (int i = 0; i < 10; ++i) {
        try {
          pool.query("select pg_sleep(0.001)");
        } catch (const Error&) {
          ++failures;
        }
      }
      return failures;
    }));
  for (auto& c : callers) EXPECT_EQ(c.get(), 0);
  EXPECT_LE(pool.stats().connections_opened, 8u);
}

TEST_F(PoolTest, ServerNotInRecoveryIsNotUsedAsAStandby) {
  // A second primary (any server that is not in recovery) listed as a standby.
  auto other = TestCluster::shared().create_database();
  Pool pool({.primary = db.dsn(), .standbys = {other.dsn()}, .max_size = 2});
  auto conn = pool.acquire(Route::read);
  EXPECT_FALSE(conn.on_standby());
  EXPECT_EQ(conn.query_value<std::string>("select current_database()::text"), db.name());
  const auto stats = pool.stats();
  ASSERT_EQ(stats.endpoints.size(), 2u);
  EXPECT_TRUE(stats.endpoints[1].standby);
  EXPECT_FALSE(stats.endpoints[1].usable);
}

TEST_F(PoolTest, UnreachableStandbyFallsBackToThePrimaryQuickly) {
  const int port = sys::free_tcp_port();
  Pool pool({.primary = db.dsn(),
             .standbys = {fmt::format("host=127.0.0.1 port={} user=postgres connect_timeout=1", port)},
             .max_size = 2});
  const auto start = Clock::now();
  auto rows = pool.read("select pg_is_in_recovery()");
  EXPECT_FALSE(rows[0].get<bool>(0));
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_FALSE(pool.stats().endpoints[1].usable);
}

// A hot standby of a private primary, made with pg_basebackup -R and stopped (its
// folder removed with the primary's) at the end of the test.
class StandbyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string user = sys::server_user();
    standby_dir = primary.root_dir() + "/standby";
    standby_sock = primary.root_dir() + "/standby_sock";
    auto r = sys::run({sys::pg_binary("pg_basebackup"), "-h", primary.socket_dir(), "-p",
                       std::to_string(primary.port()), "-U", "postgres", "-D", standby_dir, "-R", "-X", "stream",
                       "-c", "fast", "--no-sync"},
                      {.as_user = user, .timeout = 60s});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::filesystem::create_directory(standby_sock);
    sys::give_to_server_user(standby_sock);
    for (int attempt = 0; attempt < 3 && standby_port == 0; ++attempt) {
      const int port = sys::free_tcp_port();
      r = sys::run({sys::pg_binary("pg_ctl"), "start", "-w", "-D", standby_dir, "-l", standby_dir + "/log", "-o",
                    fmt::format("-p {} -k {}", port, standby_sock)},
                   {.as_user = user, .timeout = 60s});
      if (r.exit_code == 0) standby_port = port;
    }
    ASSERT_NE(standby_port, 0) << r.output;
    standby_dsn = fmt::format("host={} port={} dbname={} user=postgres", standby_sock, standby_port, db.name());
  }
  void TearDown() override {
    if (standby_port != 0)
      sys::run({sys::pg_binary("pg_ctl"), "stop", "-D", standby_dir, "-m", "immediate"},
               {.as_user = sys::server_user(), .timeout = 30s});
  }
  // Waits until the standby has replayed everything the primary has written.
  void wait_for_replay() {
    Connection p(db.dsn());
    // The insert position: with synchronous_commit off, the last commit may not be written yet.
    const auto target = p.query_value<std::string>("select pg_current_wal_insert_lsn()::text");
    Connection s(standby_dsn);
    const auto deadline = Clock::now() + 10s;
    while (!s.query_value<bool>("select pg_last_wal_replay_lsn() >= $1::pg_lsn", target)) {
      ASSERT_LT(Clock::now(), deadline) << "the standby did not catch up";
      std::this_thread::sleep_for(20ms);
    }
  }

  TestCluster primary;
  pgstack::testing::TestDatabase db = primary.create_database();
  std::string standby_dir, standby_sock, standby_dsn;
  int standby_port = 0;
};

TEST_F(StandbyTest, ReadsGoToTheStandbyAndWritesToThePrimaryAndLaggingStandbysAreSkipped) {
  Pool pool({.primary = db.dsn(),
             .standbys = {standby_dsn},
             .max_size = 2,
             .max_replay_lag = 400ms,
             .lag_check_interval = 50ms});
  Connection(db.dsn()).execute_script("create table products(id int)");
  pool.query("insert into products values (1)");
  wait_for_replay();

  {
    auto reader = pool.acquire(Route::read);
    EXPECT_TRUE(reader.on_standby());
    EXPECT_TRUE(reader.query_value<bool>("select pg_is_in_recovery()"));
    EXPECT_EQ(reader.query_value<std::int64_t>("select count(*) from products"), 1);
  }
  EXPECT_TRUE(first_value<bool>(pool.read("select pg_is_in_recovery()")));
  EXPECT_FALSE(first_value<bool>(pool.query("select pg_is_in_recovery()")));
  {
    auto tx = pool.begin_read();
    EXPECT_TRUE(tx.query_value<bool>("select pg_is_in_recovery()"));
    EXPECT_THROW(tx.query("insert into products values (2)"), InvalidTransactionState);
  }

  // Pause replay, keep writing: the standby falls behind and reads move to the primary.
  // Lag is "now minus the commit time of the last transaction replayed" while WAL waits
  // unreplayed, so it counts from the last write the standby did replay.
  const auto last_replayed_write = Clock::now();
  pool.query("insert into products values (2)");
  wait_for_replay();
  Connection(standby_dsn).query("select pg_wal_replay_pause()");
  bool skipped = false;
  PoolStats at_skip;
  while (!skipped && Clock::now() - last_replayed_write < 10s) {
    pool.query("insert into products values (3)");
    std::this_thread::sleep_for(50ms);
    skipped = !pool.acquire(Route::read).on_standby();
    at_skip = pool.stats();
  }
  EXPECT_TRUE(skipped) << "a standby far behind kept getting reads";
  EXPECT_GE(Clock::now() - last_replayed_write, 400ms)
      << "skipped before the lag could exceed the limit; lag seen " << at_skip.endpoints[1].replay_lag_seconds
      << " s, idle " << at_skip.endpoints[1].idle << ", in use " << at_skip.endpoints[1].in_use;
  EXPECT_FALSE(first_value<bool>(pool.read("select pg_is_in_recovery()")));
  const auto stats = pool.stats();
  EXPECT_FALSE(stats.endpoints[1].usable);
  EXPECT_GT(stats.endpoints[1].replay_lag_seconds, 0.4);

  // Once it has caught up, reads go back to it.
  Connection(standby_dsn).query("select pg_wal_replay_resume()");
  wait_for_replay();
  std::this_thread::sleep_for(100ms);  // time passing: past lag_check_interval, so the pool looks again
  EXPECT_TRUE(pool.acquire(Route::read).on_standby());
}

}  // namespace
}  // namespace pgstack::pg

// Many callers, few statements: kv::Store's coalesced get and set, and kv::AsyncStore,
// against a real PostgreSQL.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "pgstack/kv/async_store.h"
#include "pgstack/kv/store.h"
#include "pgstack/pg/errors.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::kv {
namespace {

using namespace std::chrono_literals;

class BatchingTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Pool pool_{{.primary = db_.dsn(), .max_size = 12}};
  pg::Connection conn_{db_.dsn()};

  // Transactions committed in this database, as reported by backends that have ended
  // (each statement of the pool's is one).
  std::int64_t commits() {
    conn_.query("select pg_stat_clear_snapshot()");
    return conn_.query_value<std::int64_t>("select xact_commit from pg_stat_database where datname = current_database()");
  }
};

TEST_F(BatchingTest, ThreadsSharingAStoreEachReadWhatTheyWroteInFewerStatementsThanCalls) {
  const auto before = commits();
  std::atomic<int> wrong{0};
  {
    pg::Pool pool{{.primary = db_.dsn(), .max_size = 4}};
    Store kv{pool, {.coalesce_in_flight = 1}};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
      threads.emplace_back([&, t] {
        for (int n = 0; n < 50; ++n) {
          const auto key = fmt::format("t{}:{}", t, n);
          kv.set(key, fmt::format("value of {}", key), n % 2 ? std::optional<Ttl>(10min) : std::nullopt);
          if (kv.get(key) != fmt::format("value of {}", key)) ++wrong;
          if (kv.get(key + ":absent").has_value()) ++wrong;
        }
      });
    for (auto& t : threads) t.join();
  }  // the pool's connections close, and their backends report their transactions
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries"), 16 * 50);
  // Batches mixed the two ttls: each key kept its own.
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries where expires_at is null"),
            16 * 25);
  EXPECT_EQ(conn_.query_value<std::int64_t>(
                "select count(*) from pgstack.kv_entries where expires_at between now() + interval '9 min' "
                "and now() + interval '10 min'"),
            16 * 25);
  std::int64_t statements = 0;
  EXPECT_TRUE(pgstack::testing::eventually([&] { return (statements = commits() - before) > 100; }, 10s));
  EXPECT_LT(statements, 16 * 50 * 3) << "2,400 concurrent calls should have shared statements";
}

TEST_F(BatchingTest, TwoSetsOfOneKeyInOneBatchLeaveOneOfTheirValues) {
  Store kv{pool_, {.coalesce_in_flight = 1}};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 40; ++n) kv.set("shared", fmt::format("from {}", t));
    });
  for (auto& t : threads) t.join();
  auto value = kv.get("shared");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->rfind("from ", 0), 0u);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries"), 1);
}

TEST_F(BatchingTest, ADroppedNamespaceGetsKvsOwnErrorNotThePartitionsOne) {
  Store kv{pool_, {.name_space = "gone"}};
  kv.set("k", "v");
  conn_.query("select pgstack.kv_drop_namespace('gone')");
  try {
    kv.set("k", "v");
    FAIL() << "a set into a dropped namespace succeeded";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42704");
    EXPECT_NE(std::string(e.what()).find("namespace 'gone' does not exist"), std::string::npos) << e.what();
  }
}

TEST_F(BatchingTest, ABadCallFailsAloneWhileTheCallsBesideItSucceed) {
  Store kv{pool_, {.coalesce_in_flight = 1}};
  const std::string long_key(1025, 'k');
  std::atomic<int> good{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; n < 30; ++n) {
        try {
          if (t == 0 && n % 3 == 0) kv.set(long_key, "v");
          else if (t == 1 && n % 3 == 0) kv.set("k", "v", -1s);
          else kv.set(fmt::format("ok:{}:{}", t, n), "v");
          ++good;
        } catch (const pg::SqlError& e) {
          if (e.sqlstate() == "22023") ++refused;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused, 20);
  EXPECT_EQ(good, 8 * 30 - 20);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries"), 8 * 30 - 20);
}

TEST_F(BatchingTest, WithCoalescingOffCallsStillReadAndWrite) {
  Store kv{pool_, {.coalesce_in_flight = 0}};
  EXPECT_TRUE(kv.set("k", "v"));
  EXPECT_EQ(kv.get("k"), "v");
  EXPECT_FALSE(kv.get("missing").has_value());
}

TEST_F(BatchingTest, AsyncStoreAnswersEveryCallWithItsOwnValue) {
  AsyncStore kv{pool_};
  std::mutex m;
  std::vector<std::string> errors;
  std::atomic<int> right{0};
  for (int n = 0; n < 500; ++n) {
    auto key = fmt::format("a:{}", n);
    kv.set(key, "v" + std::to_string(n), n % 2 ? std::optional<AsyncStore::Ttl>(1h) : std::nullopt,
           [&, key, n](std::exception_ptr e) {
             if (e) {
               std::lock_guard lock(m);
               errors.push_back("set " + key);
               return;
             }
             // From the callback: a get for the key just written sees it.
             kv.get(key, [&, n](std::optional<std::string> value, std::exception_ptr e2) {
               if (!e2 && value == "v" + std::to_string(n)) ++right;
             });
           });
  }
  kv.drain();
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(right, 500);
  std::promise<std::optional<std::string>> absent;
  kv.get("never-set", [&](std::optional<std::string> v, std::exception_ptr) { absent.set_value(v); });
  EXPECT_FALSE(absent.get_future().get().has_value());
}

TEST_F(BatchingTest, AsyncStoreGivesABadCallItsOwnErrorAndAnswersTheRest) {
  AsyncStore kv{pool_};
  std::atomic<int> ok{0}, refused{0};
  for (int n = 0; n < 40; ++n) {
    const std::string key = n % 10 == 0 ? std::string(2000, 'x') : fmt::format("k{}", n);
    kv.set(key, "v", std::nullopt, [&](std::exception_ptr e) {
      if (!e) return void(++ok);
      try {
        std::rethrow_exception(e);
      } catch (const pg::SqlError& err) {
        if (err.sqlstate() == "22023") ++refused;
      }
    });
  }
  kv.drain();
  EXPECT_EQ(ok, 36);
  EXPECT_EQ(refused, 4);
  EXPECT_THROW((AsyncStore{pool_, {.name_space = "nosuch"}}), pg::SqlError);
}

TEST_F(BatchingTest, AsyncStoreAnswersEveryCallBeforeItIsDestroyed) {
  std::atomic<int> answered{0};
  {
    AsyncStore kv{pool_, {.threads = 1}};
    for (int n = 0; n < 300; ++n)
      kv.set(fmt::format("d{}", n), "v", std::nullopt, [&](std::exception_ptr e) { answered += e ? 0 : 1; });
  }
  EXPECT_EQ(answered, 300);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries"), 300);
}

TEST_F(BatchingTest, AsyncStoreReportsAKilledConnectionAndCarriesOnWithANewOne) {
  AsyncStore kv{pool_, {.threads = 1}};
  auto get = [&](const std::string& key) {
    std::promise<std::pair<std::optional<std::string>, std::exception_ptr>> p;
    kv.get(key, [&](std::optional<std::string> v, std::exception_ptr e) { p.set_value({v, e}); });
    return p.get_future().get();
  };
  std::promise<void> set_done;
  kv.set("k", "v", std::nullopt, [&](std::exception_ptr) { set_done.set_value(); });
  set_done.get_future().get();
  ASSERT_EQ(get("k").first, "v");
  // Kill every connection the pool holds (the store's among them).
  conn_.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'pgstack' "
              "and pid <> pg_backend_pid() and datname = current_database()");
  int errors = 0;
  std::optional<std::string> after;
  for (int attempt = 0; attempt < 20 && !after; ++attempt) {
    auto [value, error] = get("k");
    if (error) ++errors;
    else after = value;
  }
  EXPECT_EQ(after, "v");
  EXPECT_GE(errors, 1) << "the call on the killed connection is answered with its error";
  EXPECT_LE(errors, 12) << "each lost pooled connection costs at most one error";
}

TEST_F(BatchingTest, ACallbackThatThrowsIsReportedAndTheStoreGoesOn) {
  std::atomic<int> reported{0};
  AsyncStore kv{pool_, {.on_callback_error = [&](std::exception_ptr) { ++reported; }}};
  kv.get("x", [](std::optional<std::string>, std::exception_ptr) { throw std::runtime_error("bug in callback"); });
  kv.drain();
  EXPECT_EQ(reported, 1);
  std::promise<bool> ok;
  kv.set("y", "v", std::nullopt, [&](std::exception_ptr e) { ok.set_value(!e); });
  EXPECT_TRUE(ok.get_future().get());
}

}  // namespace
}  // namespace pgstack::kv

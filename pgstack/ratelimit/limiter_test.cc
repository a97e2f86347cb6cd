// The GCRA rate limiter against a real PostgreSQL: exact under concurrency.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"
#include "pgstack/ratelimit/limiter.h"
#include "pgstack/schema/testing/schema_test_cluster.h"

namespace pgstack::ratelimit {
namespace {

using namespace std::chrono_literals;

class LimiterTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Pool pool_{{.primary = db_.dsn(), .max_size = 16}};
  Limiter limiter_{pool_};
};

// Inside the caller's transaction, a decision commits or rolls back with it: a request
// whose own writes were rolled back has not used up the limit.
TEST_F(LimiterTest, ADecisionInTheCallersTransactionCountsOnlyIfItCommits) {
  const Limit once{.rate = 1, .per = 1h};
  pg::Connection conn(db_.dsn());
  {
    pg::Transaction tx(conn);
    EXPECT_TRUE(Limiter{tx}.allow("signup:a", once).allowed);
    EXPECT_FALSE(Limiter{tx}.allow("signup:a", once).allowed) << "the transaction sees its own decision";
    tx.rollback();
  }
  EXPECT_TRUE(limiter_.allow("signup:a", once).allowed) << "the rolled-back decision was not counted";
  {
    pg::Transaction tx(conn);
    EXPECT_TRUE(Limiter{tx}.allow("signup:b", once).allowed);
    tx.commit();
  }
  EXPECT_FALSE(limiter_.allow("signup:b", once).allowed) << "the committed decision counts";
  EXPECT_TRUE(Limiter{conn}.reset("signup:b")) << "a plain connection works too";
}

TEST_F(LimiterTest, ABurstIsAllowedThenOneRequestPerInterval) {
  const Limit limit{.rate = 10, .per = 1s, .burst = 3};
  for (int i = 2; i >= 0; --i) {
    auto d = limiter_.allow("k", limit);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, i);
    EXPECT_EQ(d.retry_after, 0us);
  }
  auto denied = limiter_.allow("k", limit);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_GT(denied.retry_after, 50ms);  // one emission interval (100 ms) after the first
  EXPECT_LE(denied.retry_after, 100ms);
  EXPECT_GT(denied.reset_after, 250ms);
  std::this_thread::sleep_for(denied.retry_after + 5ms);
  EXPECT_TRUE(limiter_.allow("k", limit).allowed);
  EXPECT_FALSE(limiter_.allow("k", limit).allowed);
  // Keys are independent, and a reset gives a full bucket back.
  EXPECT_TRUE(limiter_.allow("other", limit).allowed);
  EXPECT_TRUE(limiter_.reset("k"));
  EXPECT_EQ(limiter_.allow("k", limit).remaining, 2);
}

TEST_F(LimiterTest, CostCountsAndZeroCostOnlyLooks) {
  const Limit limit{.rate = 10, .per = 1h, .burst = 10};
  EXPECT_EQ(limiter_.allow("k", {.rate = 10, .per = 1h, .burst = 10, .cost = 4}).remaining, 6);
  EXPECT_EQ(limiter_.allow("k", {.rate = 10, .per = 1h, .burst = 10, .cost = 0}).remaining, 6);
  EXPECT_FALSE(limiter_.allow("k", {.rate = 10, .per = 1h, .burst = 10, .cost = 7}).allowed);
  EXPECT_TRUE(limiter_.allow("k", {.rate = 10, .per = 1h, .burst = 10, .cost = 6}).allowed);
  EXPECT_FALSE(limiter_.allow("k", limit).allowed);
}

TEST_F(LimiterTest, ConcurrentCallersNeverExceedTheLimit) {
  // 16 threads, 40 attempts each, against 25 per hour: exactly 25 are allowed.
  const Limit limit{.rate = 25, .per = 1h};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i)
        if (limiter_.allow("shared", limit).allowed) ++allowed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 25);

  // At a rate that refills during the run: never more than burst + rate x elapsed.
  const Limit fast{.rate = 100, .per = 1s, .burst = 10};
  allowed = 0;
  threads.clear();
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&] {
      while (std::chrono::steady_clock::now() - started < 1s)
        if (limiter_.allow("fast", fast).allowed) ++allowed;
    });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LE(allowed.load(), 10 + static_cast<int>(100 * elapsed) + 1);
  EXPECT_GE(allowed.load(), 80);  // and it does let the rate through
}

TEST_F(LimiterTest, BadLimitsGetAClearErrorAndChangeNothing) {
  auto sqlstate = [&](const Limit& limit, std::string key = "k") {
    try {
      limiter_.allow(key, limit);
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
    return std::string();
  };
  EXPECT_EQ(sqlstate({.rate = 0, .per = 1s}), "22023");
  EXPECT_EQ(sqlstate({.rate = 10, .per = -1s}), "22023");
  EXPECT_EQ(sqlstate({.rate = 10, .per = 1s, .burst = 5, .cost = 6}), "22023");
  EXPECT_EQ(sqlstate({.rate = 10, .per = 1s, .cost = -1}), "22023");
  EXPECT_EQ(sqlstate({.rate = 10, .per = 1s}, std::string(1025, 'k')), "22023");
  EXPECT_EQ(sqlstate({.rate = 10000000, .per = 1s}), "22023");  // more than one a microsecond
  pg::Connection conn(db_.dsn());
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pgstack.rate_limits"), 0);
}

TEST_F(LimiterTest, FullBucketsAreSwept) {
  limiter_.allow("a", {.rate = 100, .per = 1s});
  limiter_.allow("b", {.rate = 1, .per = 1h});
  std::this_thread::sleep_for(30ms);  // time passing: a's bucket refills (100 per second)
  pg::Connection conn(db_.dsn());
  EXPECT_EQ(conn.query_value<std::int64_t>("select pgstack.rate_limit_sweep()"), 1);  // a is full again
  EXPECT_FALSE(limiter_.allow("b", {.rate = 1, .per = 1h}).allowed);                    // b is kept
}

}  // namespace
}  // namespace pgstack::ratelimit

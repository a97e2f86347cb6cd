// kv::Cache (cache-aside with stampede protection) and the materialized view registry.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "pgstack/kv/cache.h"
#include "pgstack/pg/errors.h"
#include "pgstack/schema/testing/schema_test_cluster.h"

namespace pgstack::kv {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class CacheTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Pool pool_{{.primary = db_.dsn(), .max_size = 24}};
  pg::Connection conn_{db_.dsn()};
};

TEST_F(CacheTest, OnAMissOneProcessComputesAndTheOthersWait) {
  // Four Cache objects stand for four processes (each has its own lock owner), with
  // five threads each, all asking for one cold key at once.
  std::vector<std::unique_ptr<Cache>> processes;
  for (int p = 0; p < 4; ++p) processes.push_back(std::make_unique<Cache>(pool_, CacheOptions{.name_space = "pages"}));
  std::atomic<int> computes{0};
  std::vector<std::future<std::string>> results;
  for (int t = 0; t < 20; ++t)
    results.push_back(std::async(std::launch::async, [&, t] {
      return processes[t % 4]->get_or_compute("home", 60s, [&] {
        ++computes;
        std::this_thread::sleep_for(300ms);
        return std::string("<html>home</html>");
      });
    }));
  for (auto& r : results) EXPECT_EQ(r.get(), "<html>home</html>");
  EXPECT_EQ(computes.load(), 1);
  // And then it is a hit for everyone.
  EXPECT_EQ(processes[2]->get_or_compute("home", 60s, [&] { ++computes; return std::string("again"); }),
            "<html>home</html>");
  EXPECT_EQ(computes.load(), 1);
  std::uint64_t waits = 0;
  for (auto& p : processes) waits += p->stats().waits;
  EXPECT_GE(waits, 1u);  // the other processes waited for the one computing
}

TEST_F(CacheTest, AStaleValueIsServedWhileOneProcessRecomputes) {
  Cache a{pool_, {.name_space = "pages", .stale_for = 10s}};
  Cache b{pool_, {.name_space = "pages", .stale_for = 10s}};
  EXPECT_EQ(a.get_or_compute("k", 100ms, [] { return std::string("v1"); }), "v1");
  std::this_thread::sleep_for(150ms);  // now stale
  std::promise<void> computing;
  auto refresher = std::async(std::launch::async, [&] {
    return a.get_or_compute("k", 60s, [&] {
      computing.set_value();
      std::this_thread::sleep_for(600ms);
      return std::string("v2");
    });
  });
  computing.get_future().wait();
  auto started = Clock::now();
  EXPECT_EQ(b.get_or_compute("k", 60s, [] { return std::string("b computed"); }), "v1");
  EXPECT_LT(Clock::now() - started, 400ms) << "the stale read waited for the recompute";
  EXPECT_EQ(b.stats().stale_hits, 1u);
  EXPECT_EQ(refresher.get(), "v2");
  EXPECT_EQ(b.get_or_compute("k", 60s, [] { return std::string("b computed"); }), "v2");
  EXPECT_EQ(b.stats().computes, 0u);
}

TEST_F(CacheTest, WhenTheComputingProcessFailsAWaiterTakesOver) {
  Cache a{pool_, {.name_space = "pages"}};
  Cache b{pool_, {.name_space = "pages"}};
  std::promise<void> computing;
  auto failing = std::async(std::launch::async, [&] {
    return a.get_or_compute("k", 60s, [&]() -> std::string {
      computing.set_value();
      std::this_thread::sleep_for(200ms);
      throw std::runtime_error("backend down");
    });
  });
  computing.get_future().wait();
  EXPECT_EQ(b.get_or_compute("k", 60s, [] { return std::string("from b"); }), "from b");
  EXPECT_THROW(failing.get(), std::runtime_error);
  EXPECT_EQ(b.stats().waits, 1u);
  EXPECT_EQ(b.stats().computes, 1u);
}

TEST_F(CacheTest, MaterializedViewsAreRefreshedOnScheduleConcurrentlyWhenTheyCanBe) {
  conn_.execute_script(R"(
    create table sales (id int primary key, region text, amount int);
    insert into sales values (1, 'eu', 10), (2, 'us', 20);
    create materialized view sales_by_region as select region, sum(amount) as total from sales group by region;
    create unique index on sales_by_region (region);
    create materialized view sales_total as select sum(amount) as total from sales;
  )");
  conn_.query("select pgstack.register_materialized_view('sales_by_region', interval '1 hour')");
  conn_.query("select pgstack.register_materialized_view('sales_total', interval '1 hour')");
  conn_.query("insert into sales values (3, 'eu', 5)");
  // Both are due at once; one view per call.
  EXPECT_EQ(conn_.query_value<std::int64_t>("select pgstack.cache_refresh_views()"), 1);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select pgstack.cache_refresh_views()"), 1);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select pgstack.cache_refresh_views()"), 0);  // next due in an hour
  EXPECT_EQ(conn_.query_value<std::int64_t>("select total from sales_by_region where region = 'eu'"), 15);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select total from sales_total"), 35);
  auto concurrently = [&](const char* view) {
    return conn_.query_value<bool>("select last_concurrently from pgstack.cache_views where view = $1::regclass", view);
  };
  EXPECT_TRUE(concurrently("sales_by_region"));
  EXPECT_FALSE(concurrently("sales_total"));

  // A refresh that fails is recorded and leaves the old contents in place.
  conn_.query("update pgstack.cache_views set next_refresh_at = now() where view = 'sales_by_region'::regclass");
  conn_.execute_script("create unique index on sales_by_region (total);"
                       "insert into sales values (4, 'us', -5)");  // eu 15, us 15: no longer unique
  EXPECT_EQ(conn_.query_value<std::int64_t>("select pgstack.cache_refresh_views()"), 0);
  EXPECT_TRUE(conn_.query_value<bool>(
      "select last_error is not null from pgstack.cache_views where view = 'sales_by_region'::regclass"));
  EXPECT_EQ(conn_.query_value<std::int64_t>("select total from sales_by_region where region = 'eu'"), 15);

  // Bad input: not a materialized view.
  try {
    conn_.query("select pgstack.register_materialized_view('sales', interval '1 minute')");
    FAIL();
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42809");
  }
  // A dropped view is forgotten.
  conn_.query("drop materialized view sales_total");
  conn_.query("select pgstack.cache_refresh_views()");
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.cache_views"), 1);
}

}  // namespace
}  // namespace pgstack::kv

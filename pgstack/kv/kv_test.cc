// The kv Store and its SQL API against a real PostgreSQL.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "pgstack/kv/store.h"
#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"
#include "pgstack/schema/housekeeper.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::kv {
namespace {

using namespace std::chrono_literals;

class KvTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Pool pool_{{.primary = db_.dsn(), .max_size = 20}};
  pg::Connection conn_{db_.dsn()};

  std::int64_t rows(std::string_view ns = "default") {
    return conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries where namespace = $1", ns);
  }
  // The SQLSTATE a statement fails with ("" when it succeeds).
  template <class F>
  static std::string sqlstate_of(F f) {
    try {
      f();
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
    return "";
  }
};

// A Store on the caller's transaction: its writes commit or roll back with the caller's
// own rows, and the transaction reads its own writes; nothing is coalesced there.
TEST_F(KvTest, AStoreOnTheCallersTransactionCommitsAndRollsBackWithIt) {
  Store shared{pool_};
  pg::Connection conn(db_.dsn());
  {
    pg::Transaction tx(conn);
    Store in_tx{tx};
    EXPECT_TRUE(in_tx.set("order:1", "paid"));
    EXPECT_EQ(in_tx.incr("orders"), 1);
    EXPECT_EQ(in_tx.get("order:1"), "paid") << "the transaction reads its own write";
    EXPECT_FALSE(shared.get("order:1").has_value()) << "others do not see it before the commit";
    tx.rollback();
  }
  EXPECT_FALSE(shared.get("order:1").has_value()) << "rolled back with the transaction";
  EXPECT_FALSE(shared.get("orders").has_value());
  {
    pg::Transaction tx(conn);
    Store{tx}.set("order:2", "paid");
    tx.commit();
  }
  EXPECT_EQ(shared.get("order:2"), "paid");
}

TEST_F(KvTest, SetGetDeleteRoundTripBinaryValues) {
  Store kv{pool_};
  const std::string blob("\0\xff\x01 binary", 10);
  EXPECT_FALSE(kv.get("k").has_value());
  EXPECT_TRUE(kv.set("k", blob));
  EXPECT_EQ(kv.get("k"), blob);
  EXPECT_TRUE(kv.exists("k"));
  EXPECT_TRUE(kv.set_json("doc", {{"a", 1}}));
  EXPECT_EQ(kv.get_json("doc"), nlohmann::json({{"a", 1}}));
  EXPECT_THROW(kv.get_json("k"), pg::UsageError);
  EXPECT_TRUE(kv.remove("k"));
  EXPECT_FALSE(kv.remove("k"));
  EXPECT_FALSE(kv.get("k").has_value());
  // The SQL API sees the same keys, as text and JSON.
  EXPECT_EQ(conn_.query_value<std::string>("select pgstack.kv_get_json('default', 'doc') ->> 'a'"), "1");
  conn_.query("select pgstack.kv_set('default', 'greeting', 'hello')");
  EXPECT_EQ(kv.get("greeting"), "hello");
  EXPECT_EQ(conn_.query_value<std::string>("select pgstack.kv_get_text('default', 'greeting')"), "hello");
}

TEST_F(KvTest, MsetAndMgetKeepOrderAndReportMissingKeys) {
  Store kv{pool_};
  EXPECT_EQ(kv.mset({{"a", "1"}, {"b", "2"}, {"a", "3"}}), 2);  // a given twice: the last wins
  auto got = kv.mget({"b", "missing", "a"});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "2");
  EXPECT_FALSE(got[1].has_value());
  EXPECT_EQ(got[2], "3");
  EXPECT_EQ(kv.remove(std::vector<std::string>{"a", "b", "missing"}), 2);
}

TEST_F(KvTest, SetModesAndCompareAndSet) {
  Store kv{pool_};
  EXPECT_FALSE(kv.set("k", "x", std::nullopt, SetMode::if_present));
  EXPECT_FALSE(kv.exists("k"));
  EXPECT_TRUE(kv.set("k", "1", std::nullopt, SetMode::if_absent));
  EXPECT_FALSE(kv.set("k", "2", std::nullopt, SetMode::if_absent));
  EXPECT_EQ(kv.get("k"), "1");
  EXPECT_TRUE(kv.set("k", "2", std::nullopt, SetMode::if_present));
  EXPECT_FALSE(kv.compare_and_set("k", std::string_view("1"), "3"));
  EXPECT_TRUE(kv.compare_and_set("k", std::string_view("2"), "3"));
  EXPECT_EQ(kv.get("k"), "3");
  EXPECT_FALSE(kv.compare_and_set("k", std::nullopt, "4"));  // present: "only if absent" fails
  EXPECT_TRUE(kv.compare_and_set("new", std::nullopt, "4"));
  // An expired key counts as absent.
  kv.set("short", "old", 50ms);
  std::this_thread::sleep_for(80ms);
  EXPECT_TRUE(kv.set("short", "new", std::nullopt, SetMode::if_absent));
  EXPECT_EQ(kv.get("short"), "new");
}

TEST_F(KvTest, SixteenThreadsIncrementingOneKeyGiveTheExactTotal) {
  constexpr int kThreads = 16, kEach = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      Store kv{pool_};
      for (int i = 0; i < kEach; ++i) kv.incr("counter");
    });
  for (auto& t : threads) t.join();
  Store kv{pool_};
  EXPECT_EQ(kv.get("counter"), std::to_string(kThreads * kEach));
  EXPECT_EQ(kv.incr("counter", -5), kThreads * kEach - 5);
}

TEST_F(KvTest, IncrOnANonIntegerFailsAndChangesNothing) {
  Store kv{pool_};
  kv.set("name", "alice");
  try {
    kv.incr("name");
    FAIL() << "incr of a non-integer succeeded";
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "22P02");
    EXPECT_NE(std::string(e.what()).find("does not hold an integer"), std::string::npos) << e.what();
  }
  EXPECT_EQ(kv.get("name"), "alice");
  kv.set("huge", "9999999999999999999");  // 19 digits, past bigint
  EXPECT_EQ(sqlstate_of([&] { kv.incr("huge"); }), "22P02");
  kv.set("top", "9223372036854775807");
  EXPECT_EQ(sqlstate_of([&] { kv.incr("top"); }), "22003");  // the sum overflows: numeric_value_out_of_range
  EXPECT_EQ(kv.get("top"), "9223372036854775807");
}

TEST_F(KvTest, OnlyGrantedRolesRunTheFunctionsThatActAsTheirOwner) {
  // A role that may use the schema but was granted nothing (as the stack's readonly).
  conn_.execute_script("drop role if exists kv_test_reader; create role kv_test_reader;"
                       "grant usage on schema pgstack to kv_test_reader;");
  conn_.query("select pgstack.kv_set('default', 'k', 'v')");
  conn_.execute_script("set role kv_test_reader");
  for (const char* sql : {"select pgstack.kv_flush('default')", "select pgstack.kv_drop_namespace('x')",
                          "select pgstack.kv_create_namespace('x')", "select * from pgstack.maintain()"})
    EXPECT_EQ(sqlstate_of([&] { conn_.query(sql); }), "42501") << sql;
  conn_.execute_script("reset role; drop owned by kv_test_reader; drop role kv_test_reader");
  EXPECT_EQ(Store{pool_}.get("k"), "v");
}

TEST_F(KvTest, ExpiryIsExactToTheSecond) {
  Store kv{pool_};
  kv.set("k", "v", 1s);
  kv.incr("window", 1, 1s);  // a counter with a ttl: the window's expiry does not move
  auto ttl = kv.ttl("k");
  ASSERT_TRUE(ttl.exists);
  ASSERT_TRUE(ttl.remaining.has_value());
  EXPECT_GT(*ttl.remaining, 900ms);
  EXPECT_LE(*ttl.remaining, 1s);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(kv.get("k"), "v");
  EXPECT_EQ(kv.incr("window"), 2);
  std::this_thread::sleep_for(500ms);  // 1.1 s after the set
  EXPECT_FALSE(kv.get("k").has_value());
  EXPECT_FALSE(kv.exists("k"));
  EXPECT_FALSE(kv.ttl("k").exists);
  EXPECT_FALSE(kv.mget({"k"})[0].has_value());
  EXPECT_EQ(kv.incr("window"), 1);  // expired: a new window
  // A key without a ttl never expires; expire() adds and removes one.
  kv.set("forever", "v");
  EXPECT_TRUE(kv.ttl("forever").exists);
  EXPECT_FALSE(kv.ttl("forever").remaining.has_value());
  EXPECT_TRUE(kv.expire("forever", 10s));
  EXPECT_TRUE(kv.ttl("forever").remaining.has_value());
  EXPECT_TRUE(kv.expire("forever", std::nullopt));
  EXPECT_FALSE(kv.ttl("forever").remaining.has_value());
  EXPECT_FALSE(kv.expire("missing", 10s));
}

TEST_F(KvTest, BadInputGetsAClearErrorAndChangesNothing) {
  Store kv{pool_};
  const std::string long_key(1025, 'k');
  EXPECT_EQ(sqlstate_of([&] { kv.set(long_key, "v"); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { kv.set("k", "v", -1s); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { kv.set("k", "v", 0s); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { kv.set("", "v"); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { kv.mset({{"ok", "v"}, {long_key, "v"}}); }), "22023");
  EXPECT_EQ(sqlstate_of([&] { kv.incr("k", 1, -5s); }), "22023");
  EXPECT_EQ(rows(), 0);
  try {
    conn_.query("select pgstack.kv_set('nosuch', 'k', 'v')");
    FAIL();
  } catch (const pg::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42704");
    EXPECT_NE(std::string(e.what()).find("namespace 'nosuch' does not exist"), std::string::npos) << e.what();
  }
  EXPECT_EQ(sqlstate_of([&] { conn_.query("select pgstack.kv_set('default', 'k', 'v'::text, null, 'sometimes')"); }),
            "22023");
  EXPECT_EQ(sqlstate_of([&] { conn_.query("select pgstack.kv_create_namespace('Bad Name')"); }), "22023");
  EXPECT_THROW((Store{pool_, {.name_space = "nosuch", .create = false}}), pg::SqlError);
  EXPECT_EQ(rows(), 0);
}

TEST_F(KvTest, NamespacesAreUnloggedUnlessAskedAndKeepTheirKeysApart) {
  Store cache{pool_, {.name_space = "cache"}};
  Store durable{pool_, {.name_space = "durable", .logged = true}};
  cache.set("k", "from cache");
  durable.set("k", "from durable");
  EXPECT_EQ(cache.get("k"), "from cache");
  EXPECT_EQ(durable.get("k"), "from durable");
  auto persistence = [&](const char* table) {
    return conn_.query_value<std::string>("select relpersistence::text from pg_class where oid = $1::regclass", table);
  };
  EXPECT_EQ(persistence("pgstack.kv_ns_cache"), "u");
  EXPECT_EQ(persistence("pgstack.kv_ns_durable"), "p");
  // Asking for the other persistence is refused rather than silently ignored.
  EXPECT_THROW((Store{pool_, {.name_space = "cache", .logged = true}}), pg::SqlError);
  cache.flush();
  EXPECT_FALSE(cache.get("k").has_value());
  EXPECT_EQ(durable.get("k"), "from durable");
  EXPECT_TRUE(conn_.query_value<bool>("select pgstack.kv_drop_namespace('cache')"));
  EXPECT_FALSE(conn_.query_value<bool>("select to_regclass('pgstack.kv_ns_cache') is not null"));
}

TEST_F(KvTest, LocksAreExclusiveUntilReleasedOrTheirLeaseRunsOut) {
  Store kv{pool_};
  EXPECT_TRUE(kv.try_lock("job", "a", 200ms));
  EXPECT_FALSE(kv.try_lock("job", "b", 200ms));
  EXPECT_TRUE(kv.try_lock("job", "a", 200ms));  // the holder extends it
  EXPECT_FALSE(kv.unlock("job", "b"));
  EXPECT_TRUE(kv.unlock("job", "a"));
  EXPECT_TRUE(kv.try_lock("job", "b", 100ms));
  std::this_thread::sleep_for(150ms);
  EXPECT_TRUE(kv.try_lock("job", "c", 100ms));  // b's lease ran out
}

TEST_F(KvTest, ExpiredKeysAreSweptInTheBackgroundSoTheTableDoesNotGrow) {
  Store kv{pool_};
  std::vector<std::pair<std::string, std::string>> batch;
  for (int i = 0; i < 12000; ++i) batch.emplace_back("temp:" + std::to_string(i), "v");
  kv.mset(batch, 300ms);
  kv.mset({{"keep:1", "v"}, {"keep:2", "v"}});
  EXPECT_EQ(rows(), 12002);
  // The sweep is a registered maintenance task: a Housekeeper runs it.
  schema::Housekeeper housekeeper({.dsn = db_.dsn(), .poll_interval = 100ms});
  housekeeper.start();
  EXPECT_TRUE(pgstack::testing::eventually([&] { return rows() == 2; }, 15s)) << rows() << " rows left";
  housekeeper.stop();
  EXPECT_EQ(kv.get("keep:1"), "v");
  EXPECT_EQ(conn_.query_value<std::string>("select sweep_after from pgstack.kv_namespaces where name = 'default'"), "");
}

TEST_F(KvTest, ReadsAreInlinedIntoOneIndexProbe) {
  // kv_lookup must be inlined (no function call per read) and use the primary key.
  conn_.query("select pgstack.kv_set('default', 'k', 'v')");
  conn_.query("set enable_seqscan = off");  // a one-row table would be scanned otherwise
  auto plan = conn_.query_value<std::string>(
      "explain (format json) select value from pgstack.kv_lookup('default', array['k'])");
  EXPECT_EQ(plan.find("Function Scan"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Index"), std::string::npos) << plan;
}

}  // namespace
}  // namespace pgstack::kv

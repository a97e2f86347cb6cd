// What a crash of the server (SIGKILL) does to the Redis-replacement workloads, as
// docs/kv.md promises: unlogged kv namespaces (and rate limits) come back empty; logged
// namespaces, sessions and flags survive. Sessions and flags are checked through
// their SQL API, so this test needs no other workload's headers.
#include <gtest/gtest.h>

#include "pgstack/kv/store.h"
#include "pgstack/schema/testing/schema_test_cluster.h"

namespace pgstack::kv {
namespace {

TEST(CrashTest, AServerCrashEmptiesUnloggedKeysAndKeepsLoggedOnesSessionsAndFlags) {
  auto& cluster = schema::cluster_with_schemas();
  auto db = cluster.create_database();
  std::string token;
  {
    pg::Pool pool({.primary = db.dsn(), .max_size = 2});
    Store{pool}.set("cached", "gone after a crash");
    Store{pool, {.name_space = "durable", .logged = true}}.set("kept", "survives");
    pg::Connection conn(db.dsn());
    token = conn.query_value<std::string>("select token from pgstack.session_create('user-1')");
    conn.query("select pgstack.flag_create('feature')");
    conn.query("select pgstack.flag_set('feature', 'production', '{\"enabled\": true}')");
    conn.query("select pgstack.rate_limit('k', 1, interval '1 hour')");
    // The test cluster commits without waiting for WAL (synchronous_commit off): write
    // everything out first, as a committed transaction on a production server would be.
    conn.query("checkpoint");
  }
  cluster.kill_server();
  cluster.start();  // crash recovery: unlogged tables are reset to empty

  pg::Pool pool({.primary = db.dsn(), .max_size = 2});
  EXPECT_FALSE(Store{pool}.get("cached").has_value());
  EXPECT_EQ(Store(pool, {.name_space = "durable", .logged = true}).get("kept"), "survives");
  pg::Connection conn(db.dsn());
  EXPECT_EQ(conn.query_value<std::string>("select user_id from pgstack.session_get($1)", token), "user-1");
  EXPECT_EQ(conn.query_value<std::string>("select pgstack.flag_evaluate('feature', 'production')::text"), "true");
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pgstack.rate_limits"), 0);
  // The emptied namespace works as before.
  Store{pool}.set("cached", "again");
  EXPECT_EQ(Store{pool}.get("cached"), "again");
}

}  // namespace
}  // namespace pgstack::kv

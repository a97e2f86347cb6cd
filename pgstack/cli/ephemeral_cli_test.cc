// `pgstack kv|flags|sessions|pubsub|maintain` as a user runs them, against a real
// server, including bad input that changes nothing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "pgstack/pg/connection.h"
#include "pgstack/schema/schema_test_cluster.h"
#include "pgstack/testing/cli_runner.h"

namespace pgstack::cli {
namespace {

using pgstack::testing::json_of;
using pgstack::testing::run_cli;
using namespace std::chrono_literals;

class EphemeralCliTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Connection conn_{db_.dsn()};

  pgstack::testing::CliResult cli(std::vector<std::string> args) {
    args.push_back("--db");
    args.push_back(db_.dsn());
    return run_cli(PGSTACK_CLI_PATH, args);
  }
};

TEST_F(EphemeralCliTest, KvGetSetDelAndTtl) {
  auto r = cli({"kv", "set", "greeting", "hello", "--ttl", "5m"});
  ASSERT_EQ(r.code, 0) << r.output;
  r = cli({"kv", "get", "greeting"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output, "hello\n");
  r = cli({"kv", "ttl", "greeting", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  EXPECT_GT(doc["ttl_seconds"].get<double>(), 290);
  EXPECT_EQ(cli({"kv", "set", "greeting", "other", "--if-absent"}).code, 1);
  r = cli({"kv", "del", "greeting", "missing"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("deleted 1 of 2 keys"), std::string::npos) << r.output;
  r = cli({"kv", "get", "greeting"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
  // Bad input: a bad ttl is bad usage (2); an unknown namespace or a long key a failure (1). Nothing is written.
  // Each kind of bad duration says which it is; none is clamped into a valid one.
  for (const auto& [ttl, why] : std::vector<std::pair<std::string, std::string>>{
           {"-5s", "is negative"},
           {"300000000d", "is too long; the longest is 36500d (100 years)"},
           {"0", "must be longer than zero"},
           {"0.0001ms", "is shorter than the shortest, 1ms"},
           {"5x", "is not a duration"},
           {"inf", "is not a duration"},
           {"1e3s", "is not a duration"}}) {
    r = cli({"kv", "set", "k", "v", "--ttl", ttl});
    EXPECT_EQ(r.code, 2) << ttl << ": " << r.output;
    EXPECT_NE(r.output.find("pgstack kv set: --ttl '" + ttl + "' " + why), std::string::npos) << r.output;
  }
  EXPECT_EQ(cli({"kv", "set", "k", "v", "--ttl", "36500d"}).code, 0);  // the longest is accepted
  ASSERT_EQ(cli({"kv", "del", "k"}).code, 0);
  r = cli({"kv", "set", "k", "v", "--namespace", "nosuch"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("namespace 'nosuch' does not exist"), std::string::npos) << r.output;
  EXPECT_EQ(cli({"kv", "set", std::string(1025, 'k'), "v"}).code, 1);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries"), 0);
}

TEST_F(EphemeralCliTest, FlagsCreateSetEvalAndList) {
  ASSERT_EQ(cli({"flags", "create", "checkout", "--actor", "alice"}).code, 0);
  auto r = cli({"flags", "set", "checkout", "--env", "staging", "--config",
                R"({"enabled": true, "rules": [{"when": [{"attribute": "country", "op": "in", "values": ["DE"]}], "serve": true}]})",
                "--actor", "alice"});
  ASSERT_EQ(r.code, 0) << r.output;
  r = cli({"flags", "eval", "checkout", "--env", "staging", "--subject", "u1", "--attributes", R"({"country": "DE"})", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  EXPECT_EQ(doc["value"], true);
  EXPECT_EQ(doc["reason"], "rule 1");
  ASSERT_EQ(cli({"flags", "set", "checkout", "--env", "staging", "--disable"}).code, 0);
  r = cli({"flags", "eval", "checkout", "--env", "staging", "--attributes", R"({"country": "DE"})"});
  EXPECT_NE(r.output.find("false  (disabled)"), std::string::npos) << r.output;
  r = cli({"flags", "list", "--env", "staging", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  doc = json_of(r);
  ASSERT_EQ(doc["flags"].size(), 1u);
  EXPECT_EQ(doc["flags"][0]["rules"], 1);  // --disable kept the rules
  EXPECT_EQ(doc["flags"][0]["version"], 2);
  // Bad input changes nothing.
  r = cli({"flags", "set", "checkout", "--env", "staging", "--config", R"({"enabled": true, "rules": [{"serve": "yes"}]})"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("rules[1].serve"), std::string::npos) << r.output;
  // JSON that does not parse: where and why in words, never the library's own text.
  r = cli({"flags", "set", "checkout", "--config", "{not json"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("pgstack flags set: --config is not valid JSON: unexpected 'o' at line 1, column 3; write it "
                          "as JSON, for example"),
            std::string::npos)
      << r.output;
  const auto bad_file = std::filesystem::temp_directory_path() / ("pgstack-bad-config-" + std::to_string(::getpid()));
  std::ofstream(bad_file) << "{\"enabled\": true,\n \"rules\": [}\n";
  r = cli({"flags", "set", "checkout", "--config-file", bad_file.string()});
  std::filesystem::remove(bad_file);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--config-file " + bad_file.string() + " is not valid JSON: unexpected '}' at line 2, column 12"),
            std::string::npos)
      << r.output;
  r = cli({"flags", "set", "checkout", "--config-file", bad_file.string()});
  EXPECT_NE(r.output.find("--config-file " + bad_file.string() + ": no such file"), std::string::npos) << r.output;
  r = cli({"flags", "eval", "checkout", "--attributes", "{'country': 'DE'}"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("(JSON strings take double quotes)"), std::string::npos) << r.output;
  for (const auto* text : {"{not json", "{'a': 1}", ""}) {
    r = cli({"flags", "eval", "checkout", "--attributes", text});
    EXPECT_EQ(r.output.find("json.exception"), std::string::npos) << r.output;
  }
  EXPECT_EQ(cli({"flags", "eval", "nosuch"}).code, 1);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select version from pgstack.flag_configs where flag = 'checkout'"), 2);
}

TEST_F(EphemeralCliTest, SessionsRevokeEndsAUsersSessions) {
  auto token = conn_.query_value<std::string>("select token from pgstack.session_create('user-7')");
  conn_.query("select pgstack.session_create('user-7')");
  auto r = cli({"sessions", "list", "--user", "user-7", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(json_of(r)["sessions"].size(), 2u);
  r = cli({"sessions", "revoke", "--user", "user-7"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("revoked 2 sessions of user user-7"), std::string::npos) << r.output;
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.session_get($1)", token), 0);
  EXPECT_EQ(cli({"sessions", "revoke"}).code, 2);
  EXPECT_EQ(cli({"sessions", "revoke", "--id", "999999"}).code, 1);
}

TEST_F(EphemeralCliTest, PubsubPublishAndListen) {
  auto listener = std::async(std::launch::async, [&] {
    return cli({"pubsub", "listen", "orders", "--count", "1", "--timeout", "20s", "--json"});
  });
  // Publish until the listener (a separate process, starting up) has heard one.
  for (int i = 0; i < 100 && listener.wait_for(200ms) != std::future_status::ready; ++i)
    ASSERT_EQ(cli({"pubsub", "publish", "orders", R"({"id": 42})"}).code, 0);
  auto r = listener.get();
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  EXPECT_EQ(doc["channel"], "orders");
  EXPECT_EQ(doc["payload"], R"({"id": 42})");
  EXPECT_EQ(cli({"pubsub", "publish", "bad channel!", "x"}).code, 1);
  r = cli({"pubsub", "publish", "invoices", "stored", "--durable", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(conn_.query_value<std::string>("select payload from pgstack.pubsub_read('invoices')"), "stored");
}

TEST_F(EphemeralCliTest, MaintainRunsTheDueTasks) {
  conn_.query("select pgstack.kv_set('default', 'k', 'v', interval '1 millisecond')");
  std::this_thread::sleep_for(10ms);  // time passing: the 1 ms TTL runs out
  auto r = cli({"maintain", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  bool swept = false;
  const auto doc = json_of(r);
  for (const auto& t : doc["tasks"])
    if (t["task"] == "kv_sweep") swept = t["result"] == 1;
  EXPECT_TRUE(swept) << r.output;
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.kv_entries"), 0);
}

}  // namespace
}  // namespace pgstack::cli

// `pgstack kv ...` and `pgstack maintain` (which sweeps expired keys) as a user runs them,
// against a real server, including bad input that changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "pgstack/schema/testing/schema_cli_test.h"

namespace pgstack::kv {
namespace {

using pgstack::testing::json_of;
using namespace std::chrono_literals;

class KvCliTest : public schema::SchemaCliTest {};

TEST_F(KvCliTest, GetSetDelAndTtl) {
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

TEST_F(KvCliTest, MaintainRunsTheDueTasks) {
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
}  // namespace pgstack::kv

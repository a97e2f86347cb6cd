// `pgstack flags ...` as a user runs it, against a real server, including bad input
// that changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "pgstack/schema/testing/schema_cli_test.h"

namespace pgstack::flags {
namespace {

using pgstack::testing::json_of;
using namespace std::chrono_literals;

class FlagsCliTest : public schema::SchemaCliTest {};

TEST_F(FlagsCliTest, CreateSetEvalAndList) {
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

}  // namespace
}  // namespace pgstack::flags

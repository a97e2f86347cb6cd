// `pgstack sessions ...` as a user runs it, against a real server, including bad input
// that changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "pgstack/schema/testing/schema_cli_test.h"

namespace pgstack::sessions {
namespace {

using pgstack::testing::json_of;
using namespace std::chrono_literals;

class SessionsCliTest : public schema::SchemaCliTest {};

TEST_F(SessionsCliTest, RevokeEndsAUsersSessions) {
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

}  // namespace
}  // namespace pgstack::sessions

// `pgstack pubsub ...` as a user runs it, against a real server, including bad input
// that changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "pgstack/schema/testing/schema_cli_test.h"

namespace pgstack::pubsub {
namespace {

using pgstack::testing::json_of;
using namespace std::chrono_literals;

class PubsubCliTest : public schema::SchemaCliTest {};

TEST_F(PubsubCliTest, PublishAndListen) {
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

}  // namespace
}  // namespace pgstack::pubsub

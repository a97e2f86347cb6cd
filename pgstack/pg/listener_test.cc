// LISTEN/NOTIFY: delivery on several channels, timeouts, the payload limit, and
// reconnecting (and re-subscribing) after the backend is killed or the server restarts.
#include "pgstack/pg/listener.h"

#include <gtest/gtest.h>

#include <chrono>

#include "pgstack/pg/transaction.h"
#include "pgstack/testing/test_cluster.h"

namespace pgstack::pg {
namespace {

using namespace std::chrono_literals;
using pgstack::testing::TestCluster;
using Clock = std::chrono::steady_clock;

class ListenerTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db = TestCluster::shared().create_database();
  Connection sender{db.dsn()};
};

TEST_F(ListenerTest, ReceivesNotificationsOnSeveralChannels) {
  Listener listener({.dsn = db.dsn()});
  listener.listen("orders");
  listener.listen("Jobs \"quoted\" \u00e9");  // any name: it is quoted, never spliced
  notify(sender, "orders", "order 1");
  notify(sender, "Jobs \"quoted\" \u00e9", "job 1");
  notify(sender, "unheard", "nobody listens here");
  notify(sender, "orders", "");

  auto first = listener.wait(2s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->channel, "orders");
  EXPECT_EQ(first->payload, "order 1");
  EXPECT_EQ(first->sender_pid, sender.backend_pid());
  auto second = listener.wait(2s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->channel, "Jobs \"quoted\" \u00e9");
  EXPECT_EQ(second->payload, "job 1");
  auto third = listener.wait(2s);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->channel, "orders");
  EXPECT_EQ(third->payload, "");
  EXPECT_FALSE(listener.wait(100ms));
  EXPECT_EQ(listener.reconnects(), 0u);
}

TEST_F(ListenerTest, WaitTimesOutWhenNothingArrives) {
  Listener listener({.dsn = db.dsn()});
  listener.listen("quiet");
  const auto start = Clock::now();
  EXPECT_FALSE(listener.wait(300ms));
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 1500ms);
}

TEST_F(ListenerTest, UnlistenStopsDelivery) {
  Listener listener({.dsn = db.dsn()});
  listener.listen("a");
  listener.listen("b");
  listener.unlisten("a");
  notify(sender, "a", "dropped");
  notify(sender, "b", "kept");
  auto n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->payload, "kept");
  EXPECT_FALSE(listener.wait(100ms));
}

TEST_F(ListenerTest, NotifyInATransactionIsDeliveredAtCommit) {
  Listener listener({.dsn = db.dsn()});
  listener.listen("orders");
  {
    Transaction tx(sender);
    notify(sender, "orders", "rolled back");
  }
  Transaction tx(sender);
  notify(sender, "orders", "committed");
  EXPECT_FALSE(listener.wait(200ms));
  tx.commit();
  auto n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->payload, "committed");
}

TEST_F(ListenerTest, PayloadAtTheLimitIsDeliveredAndOverItIsRefusedBeforeSending) {
  Listener listener({.dsn = db.dsn()});
  listener.listen("big");
  const std::string largest(kMaxNotifyPayload, 'x');
  notify(sender, "big", largest);
  auto n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->payload, largest);

  try {
    notify(sender, "big", std::string(8001, 'y'));
    FAIL() << "an oversized payload was sent";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("8001 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("send its key"), std::string::npos) << e.what();
  }
  EXPECT_THROW(notify(sender, "big", std::string(8000, 'y')), UsageError);
  EXPECT_THROW(notify(sender, "big", std::string("nul\0byte", 8)), UsageError);
  EXPECT_THROW(notify(sender, std::string(64, 'c'), "x"), UsageError);  // name would be truncated
  EXPECT_THROW(notify(sender, "", "x"), UsageError);
  EXPECT_FALSE(listener.wait(300ms)) << "nothing may have been sent";
  EXPECT_EQ(sender.transaction_status(), TransactionStatus::idle);
}

TEST_F(ListenerTest, ReconnectsAndResubscribesAfterItsBackendIsTerminated) {
  Listener listener({.dsn = db.dsn()});
  listener.listen("orders");
  listener.listen("jobs");
  const int old_pid = listener.backend_pid();
  ASSERT_TRUE(sender.query_value<bool>("select pg_terminate_backend($1)", old_pid));
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(listener.wait(1s));  // notices the loss and reconnects while waiting
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "") << "the FATAL went to stderr";
  EXPECT_EQ(listener.reconnects(), 1u);
  EXPECT_TRUE(listener.connected());
  EXPECT_NE(listener.backend_pid(), old_pid);

  notify(sender, "jobs", "after");
  notify(sender, "orders", "after too");
  auto n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->channel, "jobs");
  n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->channel, "orders");
}

TEST(ListenerRestart, ReconnectsAndResubscribesAfterAServerRestart) {
  TestCluster cluster;  // of its own: restarting the shared one would disturb other tests
  auto db = cluster.create_database();
  Listener listener({.dsn = db.dsn(), .reconnect_delay_max = 200ms});
  listener.listen("orders");
  {
    Connection sender(db.dsn());
    notify(sender, "orders", "before");
    ASSERT_TRUE(listener.wait(2s));
  }
  cluster.restart();
  const auto deadline = Clock::now() + 10s;
  while (listener.reconnects() == 0 && Clock::now() < deadline) EXPECT_FALSE(listener.wait(200ms));
  ASSERT_EQ(listener.reconnects(), 1u);

  Connection sender(db.dsn());
  notify(sender, "orders", "after restart");
  auto n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->payload, "after restart");
}

TEST(ListenerRestart, WaitsOutAServerThatIsDownAndReturnsOnTime) {
  TestCluster cluster;
  auto db = cluster.create_database();
  Listener listener({.dsn = db.dsn(), .connect_timeout = 500ms, .reconnect_delay_max = 100ms});
  listener.listen("orders");
  cluster.stop();
  const auto start = Clock::now();
  EXPECT_FALSE(listener.wait(700ms));  // keeps trying, but returns when told
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_FALSE(listener.connected());
  cluster.start();
  const auto deadline = Clock::now() + 10s;
  while (!listener.connected() && Clock::now() < deadline) listener.wait(200ms);
  EXPECT_EQ(listener.reconnects(), 1u);
  Connection sender(db.dsn());
  notify(sender, "orders", "back");
  auto n = listener.wait(2s);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->payload, "back");
}

}  // namespace
}  // namespace pgstack::pg

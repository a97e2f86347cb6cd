// Publish/subscribe against a real PostgreSQL: large payloads, reconnects, and durable
// consumers that resume where they were and never skip a message.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "pgstack/pg/errors.h"
#include "pgstack/pg/transaction.h"
#include "pgstack/pubsub/chunk_assembler.h"
#include "pgstack/pubsub/pubsub.h"
#include "pgstack/schema/testing/schema_test_cluster.h"
#include "pgstack/testing/eventually.h"

namespace pgstack::pubsub {
namespace {

using namespace std::chrono_literals;

class PubsubTest : public ::testing::Test {
 protected:
  pgstack::testing::TestDatabase db_ = schema::cluster_with_schemas().create_database();
  pg::Connection conn_{db_.dsn()};
};

TEST_F(PubsubTest, MessagesArriveAtCommitOnTheirChannelOnly) {
  Subscriber sub({.dsn = db_.dsn()});
  sub.subscribe("orders");
  {
    pg::Transaction tx(conn_);
    publish(tx, "orders", "in a rolled back transaction");
  }  // rolled back: never sent
  publish(conn_, "other", "not subscribed");
  auto id = publish(conn_, "orders", "first");
  publish(conn_, "orders", "first");  // the same payload twice is two messages
  auto m = sub.next(2s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, "first");
  EXPECT_EQ(m->channel, "orders");
  EXPECT_EQ(m->id, id);
  ASSERT_TRUE(sub.next(2s).has_value());
  EXPECT_FALSE(sub.next(200ms).has_value());
}

TEST_F(PubsubTest, A64KilobytePayloadArrivesWhole) {
  Subscriber sub({.dsn = db_.dsn()});
  sub.subscribe("big");
  std::string payload;
  for (int i = 0; payload.size() < 64 * 1024; ++i) payload += "chunk " + std::to_string(i) + " äöü€ ";  // multibyte too
  publish(conn_, "big", "small one first");
  publish(conn_, "big", payload);
  publish(conn_, "big", "");
  EXPECT_EQ(sub.next(2s)->payload, "small one first");
  auto m = sub.next(2s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload.size(), payload.size());
  EXPECT_EQ(m->payload, payload);
  EXPECT_EQ(sub.next(2s)->payload, "");
}

TEST_F(PubsubTest, ASubscriberWhoseConnectionIsKilledResubscribes) {
  Subscriber sub({.dsn = db_.dsn()});
  sub.subscribe("events");
  publish(conn_, "events", "before");
  EXPECT_EQ(sub.next(2s)->payload, "before");
  conn_.query("select pg_terminate_backend($1)", sub.backend_pid());
  // Messages published while it is away are lost (at most once); later ones arrive.
  ASSERT_TRUE(pgstack::testing::eventually([&] {
    publish(conn_, "events", "after");
    auto m = sub.next(100ms);
    return m && m->payload == "after";
  }, 10s));
  EXPECT_GE(sub.reconnects(), 1u);
}

TEST_F(PubsubTest, ADurableConsumerResumesAfterItsLastSeenMessage) {
  for (int i = 1; i <= 5; ++i) publish_durable(conn_, "invoices", "invoice " + std::to_string(i));
  {
    DurableSubscriber inbox({.dsn = db_.dsn(), .channel = "invoices", .consumer = "mailer", .batch_size = 3});
    auto batch = inbox.next_batch(1s);
    ASSERT_EQ(batch.size(), 3u);
    EXPECT_EQ(batch[0].payload, "invoice 1");
    inbox.ack(batch[1].id);  // handled two, then "crashed"
  }
  DurableSubscriber again({.dsn = db_.dsn(), .channel = "invoices", .consumer = "mailer"});
  auto rest = again.next_batch(1s);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].payload, "invoice 3");
  EXPECT_EQ(rest[2].payload, "invoice 5");
  // A message published later wakes a waiting consumer.
  std::thread later([&] {
    // Published once the consumer is waiting. Nothing outside shows that it waits (its
    // LISTEN came earlier), so this one gives it time; were it late, the test still holds.
    std::this_thread::sleep_for(200ms);
    pg::Connection other(db_.dsn());
    publish_durable(other, "invoices", "invoice 6");
  });
  auto started = std::chrono::steady_clock::now();
  auto woken = again.next_batch(5s);
  later.join();
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0].payload, "invoice 6");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 900ms) << "woken by the notification, not the poll";
}

// On the application's pool: reads and acks go through it (LISTEN for wake-ups on the
// pool's primary), and a live Subscriber listens on the pool's primary too.
TEST_F(PubsubTest, SubscribersOnThePoolReadThroughItAndAreStillWoken) {
  pg::Pool pool({.primary = db_.dsn(), .max_size = 2});
  publish_durable(conn_, "receipts", "receipt 1");
  DurableSubscriber inbox({.channel = "receipts", .pool = &pool, .consumer = "printer"});
  auto first = inbox.next_batch(1s);
  ASSERT_EQ(first.size(), 1u);
  inbox.ack(first[0].id);
  EXPECT_EQ(conn_.query_value<std::int64_t>("select pgstack.pubsub_position('printer', 'receipts')"), first[0].id)
      << "the ack went through the pool";
  publish_durable(conn_, "receipts", "receipt 2");
  auto next = inbox.next_batch(5s);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "receipt 2");

  Subscriber live({.pool = &pool});
  live.subscribe("alerts");
  publish(conn_, "alerts", "disk");
  auto m = live.next(2s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, "disk");
  EXPECT_THROW(Subscriber({}), pg::UsageError) << "neither a pool nor a dsn";
}

TEST_F(PubsubTest, ATransactionCommittingLateIsNotSkipped) {
  DurableSubscriber inbox({.dsn = db_.dsn(), .channel = "c", .poll_interval = 50ms});
  pg::Connection slow_conn(db_.dsn());
  pg::Transaction slow(slow_conn);
  auto first_id = publish_durable(slow, "c", "from the slow transaction");  // the lower id, still open
  publish_durable(conn_, "c", "committed first");
  EXPECT_TRUE(inbox.next_batch(300ms).empty());  // held back while the slow one may still commit
  slow.commit();
  auto got = inbox.next_batch(2s);
  // Both, in the order of their transactions (the slow one wrote first), for every reader.
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "from the slow transaction");
  EXPECT_EQ(got[0].id, first_id);
  EXPECT_EQ(got[1].payload, "committed first");
}

TEST_F(PubsubTest, BadInputGetsAClearError) {
  auto sqlstate = [&](const char* sql, const std::string& payload) {
    try {
      conn_.query(sql, payload);
    } catch (const pg::SqlError& e) {
      return e.sqlstate();
    }
    return std::string();
  };
  EXPECT_EQ(sqlstate("select pgstack.pubsub_publish('bad channel!', $1)", "x"), "22023");
  EXPECT_EQ(sqlstate("select pgstack.pubsub_publish(repeat('c', 54), $1)", "x"), "22023");
  EXPECT_EQ(sqlstate("select pgstack.pubsub_publish('c', $1)", std::string(1048577, 'x')), "54000");
  EXPECT_EQ(sqlstate("select pgstack.pubsub_publish_durable('bad channel!', $1)", "x"), "22023");
  EXPECT_EQ(conn_.query_value<std::int64_t>("select count(*) from pgstack.pubsub_messages"), 0);
  Subscriber sub({.dsn = db_.dsn()});
  EXPECT_THROW(sub.subscribe("bad channel!"), pg::UsageError);

  // Look-alike notifications from anyone who can connect (chunks that disagree on their
  // number, absurd counts) are ignored; real messages still arrive whole.
  sub.subscribe("orders");
  conn_.execute_script(R"(notify "pgstack:orders", '7:1:2:a'; notify "pgstack:orders", '7:5:5:b';
                          notify "pgstack:orders", '8:1:100000:x'; notify "pgstack:orders", 'not ours')");
  publish(conn_, "orders", "real");
  auto m = sub.next(2s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, "real");
}

// The chunk header without a server (fuzz/pubsub_chunks_fuzz.cc tries many more).
TEST(ChunkAssembler, IgnoresLookAlikesAndPutsChunksTogetherInAnyOrder) {
  for (std::string_view bad : {"", "1", "1:", "1:1", "1:1:", "x:1:1:a", "1:0:2:a", "1:3:2:a", "1:1:201:a", "1:-1:2:a",
                               "1:1:-2:a", "99999999999999999999:1:1:a", "1:1:1"})
    EXPECT_FALSE(decode_chunk(bad)) << bad;
  const auto chunk = decode_chunk("-7:2:3:b:c");
  ASSERT_TRUE(chunk);
  EXPECT_EQ(chunk->message_id, -7);
  EXPECT_EQ(chunk->index, 2);
  EXPECT_EQ(chunk->count, 3);
  EXPECT_EQ(chunk->text, "b:c");

  ChunkAssembler chunks;
  EXPECT_FALSE(chunks.add("other:orders", "1:1:1:a"));  // not a pubsub channel
  EXPECT_FALSE(chunks.add("pgstack:orders", "7:3:3:c"));
  EXPECT_FALSE(chunks.add("pgstack:orders", "7:1:2:x"));  // disagrees on the count: message 7 is dropped
  EXPECT_EQ(chunks.partial_messages(), 0u);
  EXPECT_FALSE(chunks.add("pgstack:orders", "8:2:2:b"));
  EXPECT_FALSE(chunks.add("pgstack:orders", "8:2:2:b"));  // twice is harmless
  const auto m = chunks.add("pgstack:orders", "8:1:2:a");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->channel, "orders");
  EXPECT_EQ(m->id, 8);
  EXPECT_EQ(m->payload, "ab");
  EXPECT_EQ(chunks.partial_messages(), 0u);
}

}  // namespace
}  // namespace pgstack::pubsub

// Publish/subscribe on PostgreSQL (docs/pubsub.md).
//
// Live messages go to whoever listens when the publishing transaction commits: at
// most once, any size up to 1 MB (cut into chunks and put together again here).
//
//   pgstack::pubsub::publish(conn, "orders.created", R"({"id": 42})");     // in your transaction, if any
//   pgstack::pubsub::Subscriber sub({.dsn = dsn});
//   sub.subscribe("orders.created");
//   while (auto m = sub.next(std::chrono::seconds(1))) handle(m->payload);
//
// Durable messages are stored; a consumer reads on from its last position, so it gets
// what was published while it was away:
//
//   pgstack::pubsub::publish_durable(conn, "invoices", payload);
//   pgstack::pubsub::DurableSubscriber inbox({.dsn = dsn, .channel = "invoices", .consumer = "mailer"});
//   for (auto& m : inbox.next_batch(std::chrono::seconds(5))) { send(m.payload); inbox.ack(m.id); }
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/executor.h"
#include "pgstack/pg/listener.h"
#include "pgstack/pg/pool.h"
#include "pgstack/pubsub/chunk_assembler.h"
#include "pgstack/pubsub/message.h"

namespace pgstack::pubsub {

// Db: pg::Connection, pg::Transaction, pg::PooledConnection (anything with query_value).
template <class Db>
std::int64_t publish(Db& db, std::string_view channel, std::string_view payload) {
  return db.template query_value<std::int64_t>("select pgstack.pubsub_publish($1, $2)", channel, payload);
}
template <class Db>
std::int64_t publish_durable(Db& db, std::string_view channel, std::string_view payload) {
  return db.template query_value<std::int64_t>("select pgstack.pubsub_publish_durable($1, $2)", channel, payload);
}

struct SubscriberOptions {
  // A session connection: LISTEN does not work through a transaction pooler. Empty:
  // the pool's primary DSN.
  std::string dsn;
  pg::Pool* pool = nullptr;
};

// Live messages. Owns a connection that reconnects and re-subscribes by itself; what
// was published while it was disconnected is not delivered (reconnects() counts the
// gaps). Not thread-safe: one thread calls next().
class Subscriber {
 public:
  explicit Subscriber(SubscriberOptions options);
  void subscribe(std::string_view channel);
  void unsubscribe(std::string_view channel);
  // The next whole message, or nullopt when none arrives within timeout.
  std::optional<Message> next(std::chrono::milliseconds timeout);
  std::uint64_t reconnects() const noexcept { return listener_.reconnects(); }
  int backend_pid() const { return listener_.backend_pid(); }

 private:
  pg::Listener listener_;
  ChunkAssembler chunks_;
  std::uint64_t seen_reconnects_ = 0;
};

struct DurableSubscriberOptions {
  // Where it LISTENs for wake-ups (a session connection); empty: the pool's primary DSN.
  std::string dsn;
  std::string channel;
  // Where it reads and acknowledges: the application's pool (a connection borrowed per
  // call), or, without one, a connection of its own to dsn.
  pg::Pool* pool = nullptr;
  // A named consumer keeps its position in the database (ack); without a name the
  // position starts at after_id and lives in this object only.
  std::string consumer;
  std::int64_t after_id = 0;
  int batch_size = 100;
  // Reads even without a wake-up this often (a wake-up lost to a reconnect, or a
  // message held back by a transaction that was still open).
  std::chrono::milliseconds poll_interval{1000};
};

class DurableSubscriber {
 public:
  explicit DurableSubscriber(DurableSubscriberOptions options);
  // Messages after the position, oldest transaction first (the same order for every
  // reader); waits up to timeout for some.
  std::vector<Message> next_batch(std::chrono::milliseconds timeout);
  // Marks everything up to id handled. For a named consumer the position is stored, and
  // the next DurableSubscriber of that name starts after it. (next_batch goes on from
  // what it last returned, acknowledged or not.)
  void ack(std::int64_t id);
  std::int64_t position() const noexcept { return position_; }

 private:
  std::vector<Message> read();
  pg::Executor reader();  // the pool, or the subscriber's own connection (reopened if lost)

  DurableSubscriberOptions options_;
  std::unique_ptr<pg::Connection> conn_;
  pg::Listener listener_;
  std::int64_t position_ = 0;
  std::int64_t read_up_to_ = 0;  // the last id handed out (not yet acked, maybe)
};

}  // namespace pgstack::pubsub

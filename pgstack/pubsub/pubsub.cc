#include "pgstack/pubsub/pubsub.h"

#include <fmt/format.h>

#include <regex>

#include "pgstack/pg/errors.h"

namespace pgstack::pubsub {

namespace {

using Clock = std::chrono::steady_clock;

// The same rule as pgstack.pubsub_check_channel: the NOTIFY channel name, with its
// prefix, must stay within PostgreSQL's 63 bytes.
void check_channel(std::string_view channel) {
  static const std::regex kName("^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,52}$");
  if (!std::regex_match(channel.begin(), channel.end(), kName))
    throw pg::UsageError(fmt::format(
        "pubsub: channel name '{}' is not valid; use 1 to 53 letters, digits, _ . : and -", channel));
}

std::string live_channel(std::string_view channel) { return "pgstack:" + std::string(channel); }
std::string wake_channel(std::string_view channel) { return "pgstack.d:" + std::string(channel); }

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Where a subscriber LISTENs: its dsn, else its pool's primary.
std::string session_dsn(const std::string& dsn, const pg::Pool* pool) {
  if (!dsn.empty()) return dsn;
  if (!pool) throw pg::UsageError("pubsub: a subscriber needs a pool or a dsn (its options) to listen on");
  return pool->options().primary;
}

}  // namespace

Subscriber::Subscriber(SubscriberOptions options)
    : listener_(pg::ListenerOptions{.dsn = session_dsn(options.dsn, options.pool)}) {}

void Subscriber::subscribe(std::string_view channel) {
  check_channel(channel);
  listener_.listen(live_channel(channel));
}

void Subscriber::unsubscribe(std::string_view channel) {
  check_channel(channel);
  listener_.unlisten(live_channel(channel));
}

std::optional<Message> Subscriber::next(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto n = listener_.wait(left(deadline));
    if (listener_.reconnects() != seen_reconnects_) {
      // Chunks sent while the connection was down are gone: drop what was half received.
      seen_reconnects_ = listener_.reconnects();
      chunks_.clear();
    }
    if (!n) return std::nullopt;
    if (auto m = chunks_.add(n->channel, n->payload)) return m;
    if (Clock::now() >= deadline) return std::nullopt;
  }
}

DurableSubscriber::DurableSubscriber(DurableSubscriberOptions options)
    : options_(std::move(options)), listener_(pg::ListenerOptions{.dsn = session_dsn(options_.dsn, options_.pool)}) {
  check_channel(options_.channel);
  if (options_.batch_size < 1) throw pg::UsageError("pubsub: batch_size must be at least 1");
  if (options_.dsn.empty()) options_.dsn = options_.pool->options().primary;
  listener_.listen(wake_channel(options_.channel));
  position_ = options_.consumer.empty()
                  ? options_.after_id
                  : reader().query_value<std::int64_t>("select pgstack.pubsub_position($1, $2)", options_.consumer,
                                                       options_.channel);
  read_up_to_ = position_;
}

pg::Executor DurableSubscriber::reader() {
  if (options_.pool) return *options_.pool;
  if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pg::Connection>(options_.dsn);
  return *conn_;
}

std::vector<Message> DurableSubscriber::read() {
  std::vector<Message> out;
  for (auto row : reader().query("select id, payload from pgstack.pubsub_read($1, $2, $3)", options_.channel,
                               read_up_to_, options_.batch_size))
    out.push_back(Message{options_.channel, row.get<std::string>(1), row.get<std::int64_t>(0)});
  if (!out.empty()) read_up_to_ = out.back().id;
  return out;
}

std::vector<Message> DurableSubscriber::next_batch(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto batch = read();
    if (!batch.empty() || Clock::now() >= deadline) return batch;
    if (listener_.wait(std::min(left(deadline), options_.poll_interval))) {
      while (listener_.wait(std::chrono::milliseconds(0))) {
      }
    }
  }
}

void DurableSubscriber::ack(std::int64_t id) {
  position_ = id;
  if (!options_.consumer.empty())
    reader().query("select pgstack.pubsub_ack($1, $2, $3)", options_.consumer, options_.channel, id);
}

}  // namespace pgstack::pubsub

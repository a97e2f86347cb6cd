#include "pgstack/pubsub/pubsub.h"

#include <fmt/format.h>

#include <charconv>
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

// Reads "<digits>:" at pos, advancing past the colon.
std::optional<std::int64_t> read_number(std::string_view s, std::size_t& pos) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data() + s.size() || *end != ':') return std::nullopt;
  pos = static_cast<std::size_t>(end - s.data()) + 1;
  return value;
}

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

}  // namespace

Subscriber::Subscriber(SubscriberOptions options) : listener_(pg::ListenerOptions{.dsn = options.dsn}) {}

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
      partial_.clear();
    }
    if (!n) return std::nullopt;
    if (auto m = take(*n)) return m;
    if (Clock::now() >= deadline) return std::nullopt;
  }
}

std::optional<Message> Subscriber::take(const pg::Notification& n) {
  std::string_view channel(n.channel);
  if (!channel.starts_with("pgstack:")) return std::nullopt;
  channel.remove_prefix(8);
  std::string_view payload(n.payload);
  std::size_t pos = 0;
  auto id = read_number(payload, pos);
  auto index = id ? read_number(payload, pos) : std::nullopt;
  auto count = index ? read_number(payload, pos) : std::nullopt;
  // 1 MB in chunks of 7900 bytes is at most 133 of them: anything else is not pubsub's.
  if (!count || *index < 1 || *index > *count || *count > 200) return std::nullopt;
  std::string_view text = payload.substr(pos);
  if (*count == 1) return Message{std::string(channel), std::string(text), *id};
  const std::string key = fmt::format("{}/{}", channel, *id);
  // A transaction's chunks arrive together, so only a few messages are ever half
  // received; many means someone sends look-alike notifications: forget them.
  if (partial_.size() > 64 && !partial_.contains(key)) partial_.clear();
  Partial& p = partial_[key];
  if (!p.chunks.empty() && p.chunks.size() != static_cast<std::size_t>(*count)) {
    partial_.erase(key);  // chunks that disagree on their number: not one message
    return std::nullopt;
  }
  if (p.chunks.empty()) {
    p.channel = std::string(channel);
    p.chunks.resize(static_cast<std::size_t>(*count));
    p.have.resize(static_cast<std::size_t>(*count));
  }
  const auto i = static_cast<std::size_t>(*index - 1);
  if (!p.have[i]) ++p.received;
  p.have[i] = true;
  p.chunks[i] = std::string(text);
  if (p.received < p.chunks.size()) return std::nullopt;
  Message m{p.channel, {}, *id};
  for (auto& c : p.chunks) m.payload += c;
  partial_.erase(key);
  return m;
}

DurableSubscriber::DurableSubscriber(DurableSubscriberOptions options)
    : options_(std::move(options)), listener_(pg::ListenerOptions{.dsn = options_.dsn}) {
  check_channel(options_.channel);
  if (options_.batch_size < 1) throw pg::UsageError("pubsub: batch_size must be at least 1");
  conn_ = std::make_unique<pg::Connection>(options_.dsn);
  listener_.listen(wake_channel(options_.channel));
  position_ = options_.consumer.empty()
                  ? options_.after_id
                  : conn_->query_value<std::int64_t>("select pgstack.pubsub_position($1, $2)", options_.consumer,
                                                     options_.channel);
  read_up_to_ = position_;
}

std::vector<Message> DurableSubscriber::read() {
  if (!conn_->is_open()) conn_ = std::make_unique<pg::Connection>(options_.dsn);
  std::vector<Message> out;
  for (auto row : conn_->query("select id, payload from pgstack.pubsub_read($1, $2, $3)", options_.channel,
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
    conn_->query("select pgstack.pubsub_ack($1, $2, $3)", options_.consumer, options_.channel, id);
}

}  // namespace pgstack::pubsub

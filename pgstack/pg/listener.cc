#include "pgstack/pg/listener.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include <fmt/format.h>

namespace pgstack::pg {

namespace {

constexpr std::size_t kMaxIdentifierBytes = 63;  // NAMEDATALEN - 1: longer names are truncated

void check_channel(std::string_view channel) {
  if (channel.empty()) throw UsageError("a NOTIFY channel name must not be empty");
  if (channel.size() > kMaxIdentifierBytes)
    throw UsageError(fmt::format("channel name \"{}\" is {} bytes; PostgreSQL keeps at most {} (longer names are "
                                 "silently truncated, so two channels could collide): use a shorter name",
                                 channel, channel.size(), kMaxIdentifierBytes));
}

}  // namespace

void notify(Connection& conn, std::string_view channel, std::string_view payload) {
  check_channel(channel);
  if (payload.size() > kMaxNotifyPayload)
    throw UsageError(fmt::format("NOTIFY payload is {} bytes; PostgreSQL accepts at most {}: keep the data in a table "
                                 "and send its key instead",
                                 payload.size(), kMaxNotifyPayload));
  if (payload.find('\0') != std::string_view::npos)
    throw UsageError("NOTIFY payload contains a NUL byte, which PostgreSQL text cannot hold: encode it (base64, hex)");
  conn.query("select pg_notify($1, $2)", channel, payload);
}

Listener::Listener(ListenerOptions options) : options_(std::move(options)), delay_(options_.reconnect_delay_min) {
  connect();
}

Listener::~Listener() = default;

void Listener::connect() {
  auto conn = std::make_unique<Connection>(ConnectOptions{.dsn = options_.dsn,
                                                          .connect_timeout = options_.connect_timeout,
                                                          .statement_cache = false,
                                                          .application_name = "pgstack-listener"});
  for (const auto& channel : channels_) conn->execute_script("LISTEN " + conn->quote_identifier(channel));
  conn_ = std::move(conn);
}

void Listener::listen(std::string_view channel) {
  check_channel(channel);
  channels_.emplace(channel);
  if (conn_ && conn_->is_open()) {
    try {
      conn_->execute_script("LISTEN " + conn_->quote_identifier(channel));
    } catch (const ConnectionLost&) {
      conn_.reset();  // wait() reconnects and subscribes to every channel
    }
  }
}

void Listener::unlisten(std::string_view channel) {
  channels_.erase(std::string(channel));
  if (conn_ && conn_->is_open()) {
    try {
      conn_->execute_script("UNLISTEN " + conn_->quote_identifier(channel));
    } catch (const ConnectionLost&) {
      conn_.reset();
    }
  }
}

int Listener::backend_pid() const { return conn_ ? conn_->backend_pid() : 0; }
bool Listener::connected() const noexcept { return conn_ && conn_->is_open(); }

std::optional<Notification> Listener::next_buffered() {
  if (!conn_) return std::nullopt;
  PGnotify* n = PQnotifies(conn_->native());
  if (!n) return std::nullopt;
  Notification out{n->relname, n->extra ? n->extra : "", n->be_pid};
  PQfreemem(n);
  return out;
}

bool Listener::try_reconnect(std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      connect();
      ++reconnects_;
      delay_ = options_.reconnect_delay_min;
      return true;
    } catch (const ConnectionError&) {
      const auto left = deadline - std::chrono::steady_clock::now();
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(delay_, left));
      delay_ = std::min(delay_ * 2, options_.reconnect_delay_max);
    }
  }
  return false;
}

std::optional<Notification> Listener::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto n = next_buffered()) return n;
    if (!conn_ || !conn_->is_open()) {
      conn_.reset();
      if (!try_reconnect(deadline)) return std::nullopt;
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{PQsocket(conn_->native()), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) conn_.reset();
    if (ready > 0 && PQconsumeInput(conn_->native()) == 0) conn_.reset();  // the server went away
  }
}

}  // namespace pgstack::pg

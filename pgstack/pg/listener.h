// LISTEN/NOTIFY. A Listener owns a dedicated connection (LISTEN is session state and
// must not go through a transaction pooler), waits with a timeout, and reconnects and
// re-subscribes by itself when the connection drops. Notifications sent while it was
// reconnecting are lost, as with any LISTEN; reconnects() tells callers to re-check.
//
//   pgstack::pg::Listener listener({.dsn = dsn});
//   listener.listen("orders");
//   if (auto n = listener.wait(std::chrono::seconds(5))) handle(n->payload);
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "pgstack/pg/connection.h"

namespace pgstack::pg {

struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;
};

struct ListenerOptions {
  std::string dsn;
  std::chrono::milliseconds connect_timeout{5000};
  // Waits between reconnect attempts grow from the first to the second.
  std::chrono::milliseconds reconnect_delay_min{50};
  std::chrono::milliseconds reconnect_delay_max{2000};
};

// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
inline constexpr std::size_t kMaxNotifyPayload = 7999;

// Sends a notification (delivered at commit if conn is in a transaction). Checks the
// channel name and payload size first, with an error that says what to do instead.
void notify(Connection& conn, std::string_view channel, std::string_view payload);

class Listener {
 public:
  explicit Listener(ListenerOptions options);
  ~Listener();

  void listen(std::string_view channel);
  void unlisten(std::string_view channel);

  // The next notification, or nullopt when none arrives within timeout. A lost
  // connection is re-established (and every channel re-subscribed) within the wait.
  std::optional<Notification> wait(std::chrono::milliseconds timeout);

  // How many times the connection was re-established since construction.
  std::uint64_t reconnects() const noexcept { return reconnects_; }
  int backend_pid() const;
  bool connected() const noexcept;

 private:
  void connect();
  bool try_reconnect(std::chrono::steady_clock::time_point deadline);
  std::optional<Notification> next_buffered();

  ListenerOptions options_;
  std::unique_ptr<Connection> conn_;
  std::set<std::string> channels_;
  std::uint64_t reconnects_ = 0;
  std::chrono::milliseconds delay_;
};

}  // namespace pgstack::pg

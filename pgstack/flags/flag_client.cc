#include "pgstack/flags/flag_client.h"

#include <fmt/format.h>

#include <iostream>

#include "pgstack/pg/listener.h"

namespace pgstack::flags {

namespace {
constexpr const char* kChannel = "pgstack_flags";
}

std::shared_ptr<const Snapshot> load_snapshot(pg::Executor db, std::string_view environment) {
  if (!db.query_optional<std::int32_t>("select 1 from pgstack.flag_environments where name = $1", environment))
    throw pg::UsageError(fmt::format(
        "flags: environment '{}' does not exist; see select name from pgstack.flag_environments", environment));
  std::vector<Snapshot::Row> rows;
  for (auto row : db.query("select key, kind, off_value, config, version from pgstack.flag_snapshot($1)", environment))
    rows.push_back({row.get<std::string>(0), row.get<std::string>(1), row.get<nlohmann::json>(2),
                    row.get<std::optional<nlohmann::json>>(3), row.get<std::optional<std::int64_t>>(4).value_or(0)});
  return Snapshot::from_rows(rows);
}

FlagClient::FlagClient(FlagClientOptions options) : options_(std::move(options)) {
  if (!options_.log) options_.log = [](const std::string& line) { std::cerr << "pgstack flags: " << line << "\n"; };
  if (options_.dsn.empty() && !options_.pool)
    throw UsageError("FlagClient needs a pool or a dsn (FlagClientOptions): where to read the flags from");
  if (options_.dsn.empty()) options_.dsn = options_.pool->options().primary;
  if (options_.pool) {
    snapshot_.store(load_snapshot(*options_.pool, options_.environment));
  } else {
    pg::Connection conn(options_.dsn);
    snapshot_.store(load_snapshot(conn, options_.environment));
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

FlagClient::~FlagClient() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void FlagClient::reload(std::unique_ptr<pg::Connection>& conn) {
  if (options_.pool) {
    snapshot_.store(load_snapshot(*options_.pool, options_.environment), std::memory_order_release);
    ++reloads_;
    return;
  }
  if (!conn || !conn->is_open()) conn = std::make_unique<pg::Connection>(options_.dsn);
  snapshot_.store(load_snapshot(*conn, options_.environment), std::memory_order_release);
  ++reloads_;
}

void FlagClient::run(std::stop_token stop) {
  using Clock = std::chrono::steady_clock;
  std::unique_ptr<pg::Connection> conn;
  std::unique_ptr<pg::Listener> listener;
  std::uint64_t seen_reconnects = 0;
  // The snapshot was loaded before LISTEN began: load once more after subscribing, so a
  // change made in between is not missed.
  bool stale = true;
  auto next_refresh = Clock::now() + options_.refresh_interval;
  while (!stop.stop_requested()) {
    try {
      if (!listener) {
        listener = std::make_unique<pg::Listener>(pg::ListenerOptions{.dsn = options_.dsn});
        listener->listen(kChannel);
        seen_reconnects = listener->reconnects();
        stale = true;
      }
      if (stale || Clock::now() >= next_refresh) {
        reload(conn);
        stale = false;
        next_refresh = Clock::now() + options_.refresh_interval;
      }
      auto wait = std::min<Clock::duration>(std::chrono::milliseconds(100), next_refresh - Clock::now());
      if (auto n = listener->wait(std::chrono::duration_cast<std::chrono::milliseconds>(
              std::max<Clock::duration>(wait, Clock::duration::zero())))) {
        // Several flags changed at once arrive together: one reload for the lot.
        while (listener->wait(std::chrono::milliseconds(0))) {
        }
        stale = true;
      }
      if (listener->reconnects() != seen_reconnects) {  // notifications may have been lost meanwhile
        seen_reconnects = listener->reconnects();
        stale = true;
      }
    } catch (const std::exception& e) {
      options_.log(fmt::format("reload failed (the last flags stay in use; retrying): {}", e.what()));
      conn.reset();
      listener.reset();
      for (int i = 0; i < 10 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace pgstack::flags

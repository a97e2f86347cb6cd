// Feature flags evaluated in process (docs/flags.md): a FlagClient loads every flag's
// configuration for one environment, evaluates from memory (no query per check), and
// reloads when a flag changes (NOTIFY pgstack_flags, typically within a few ms),
// after a lost connection, and every refresh_interval in case a notification was lost.
//
//   pgstack::flags::FlagClient flags({.pool = &pool, .environment = "production"});   // or {.dsn = dsn}
//   if (flags.is_enabled("checkout.new-flow", {.subject = user_id, .attributes = {{"country", "DE"}}})) ...
//   std::string color = flags.variant("button-color", {.subject = user_id});
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "pgstack/flags/evaluator.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/executor.h"
#include "pgstack/pg/pool.h"

namespace pgstack::flags {

struct FlagClientOptions {
  // Where the flags are read: the application's pool (a connection borrowed per
  // reload), or, without one, a connection of the client's own to dsn.
  pg::Pool* pool = nullptr;
  // Where it LISTENs for changes: a session connection, since LISTEN does not work
  // through a transaction pooler. Empty: the pool's primary DSN.
  std::string dsn;
  std::string environment = "production";
  // Reload this often even without a notification (the fallback).
  std::chrono::milliseconds refresh_interval{30000};
  // Failed reloads are reported here (default: stderr); the last snapshot stays in use.
  std::function<void(const std::string&)> log;
};

// Reads the snapshot of one environment (pgstack.flag_snapshot).
std::shared_ptr<const Snapshot> load_snapshot(pg::Executor db, std::string_view environment);

class FlagClient {
 public:
  // Loads the flags once (throws if it cannot, or the environment does not exist),
  // then keeps them current on a thread of its own.
  explicit FlagClient(FlagClientOptions options);
  ~FlagClient();
  FlagClient(const FlagClient&) = delete;

  bool is_enabled(std::string_view flag, const Context& context = {}) const {
    return snapshot()->is_enabled(flag, context);
  }
  std::string variant(std::string_view flag, const Context& context = {}) const {
    return snapshot()->variant(flag, context);
  }
  Evaluation evaluate(std::string_view flag, const Context& context = {}) const {
    return snapshot()->evaluate(flag, context);
  }

  // The current snapshot; hold it to evaluate many flags against one consistent state.
  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(std::memory_order_acquire); }
  std::uint64_t reloads() const noexcept { return reloads_.load(); }

 private:
  void run(std::stop_token stop);
  void reload(std::unique_ptr<pg::Connection>& conn);

  FlagClientOptions options_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<std::uint64_t> reloads_{0};
  std::jthread thread_;
};

}  // namespace pgstack::flags

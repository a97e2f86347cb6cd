// Runs pgstack's registered housekeeping (pgstack.maintain(): expired keys, sessions
// and rate-limit entries swept, materialized views refreshed, old messages dropped) on
// a thread of its own, one task per transaction. Any number of processes may run one:
// tasks are taken FOR UPDATE SKIP LOCKED, so they share the work.
//
//   pgstack::schema::Housekeeper housekeeper({.dsn = std::getenv("DATABASE_URL")});
//   housekeeper.start();                 // ... the application runs ...
//   housekeeper.stop();                  // also done by the destructor
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pgstack/pg/connection.h"

namespace pgstack::schema {

struct MaintenanceRun {
  std::string task;
  std::optional<std::int64_t> result;  // the work it did (rows swept, views refreshed)
  std::optional<std::string> error;    // the task failed; retried after its interval
};

// Runs every due task once, each in its own transaction, and says what ran; stops
// between tasks when keep_going() turns false. A task already running is not
// interrupted (a long view refresh finishes first).
std::vector<MaintenanceRun> run_due_maintenance(pg::Connection& conn,
                                                const std::function<bool()>& keep_going = [] { return true; });

struct HousekeeperOptions {
  std::string dsn;
  // How often it looks for due tasks; each task has its own interval in the registry.
  std::chrono::milliseconds poll_interval{1000};
  // Failed tasks and lost connections are reported here (default: stderr).
  std::function<void(const std::string&)> log;
};

class Housekeeper {
 public:
  explicit Housekeeper(HousekeeperOptions options);
  ~Housekeeper();
  Housekeeper(const Housekeeper&) = delete;

  void start();
  void stop();
  // Tasks run since start (for tests and metrics).
  std::uint64_t runs() const;

 private:
  void loop();

  HousekeeperOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t runs_ = 0;
  std::thread thread_;
};

}  // namespace pgstack::schema

#include "pgstack/schema/housekeeper.h"

#include <fmt/format.h>

#include <iostream>

namespace pgstack::schema {

std::vector<MaintenanceRun> run_due_maintenance(pg::Connection& conn, const std::function<bool()>& keep_going) {
  std::vector<MaintenanceRun> runs;
  // One task per call, so each commits on its own (a long view refresh holds back nothing
  // else); the cap stops a task whose interval is shorter than its run from spinning.
  for (int i = 0; i < 1000 && keep_going(); ++i) {
    auto r = conn.query("select task, result, error from pgstack.maintain(1)");
    if (r.empty()) break;
    runs.push_back({r[0].get<std::string>(0), r[0].get<std::optional<std::int64_t>>(1),
                    r[0].get<std::optional<std::string>>(2)});
  }
  return runs;
}

Housekeeper::Housekeeper(HousekeeperOptions options) : options_(std::move(options)) {
  if (!options_.log) options_.log = [](const std::string& line) { std::cerr << "pgstack housekeeper: " << line << "\n"; };
}

Housekeeper::~Housekeeper() { stop(); }

void Housekeeper::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Housekeeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Housekeeper::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

void Housekeeper::loop() {
  std::optional<pg::Connection> conn;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
    }
    try {
      if (!conn || !conn->is_open()) conn.emplace(options_.dsn);
      auto runs = run_due_maintenance(*conn, [this] {
        std::lock_guard lock(mutex_);
        return !stopping_;
      });
      for (const auto& run : runs)
        if (run.error) options_.log(fmt::format("task {} failed (retried after its interval): {}", run.task, *run.error));
      std::lock_guard lock(mutex_);
      runs_ += runs.size();
    } catch (const std::exception& e) {
      options_.log(fmt::format("maintenance failed (will retry): {}", e.what()));
      conn.reset();
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace pgstack::schema

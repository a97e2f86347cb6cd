// Cumulative counters (blocks hit and read per database, checkpoints) remembered between
// doctor runs, so the cache hit ratio and the share of requested checkpoints are rates
// over a window, as the alerts mean them, rather than averages since the statistics were
// reset months ago. Run doctor from cron every few minutes and the window is the last
// hour; run it once and it falls back to the totals since the reset.
//
//   RateState state(default_state_file());
//   auto base = state.baseline("7290...:5432:app", now, 3600);   // nullopt on a first run
//   state.record("7290...:5432:app", counters, 3600);
//   state.save();
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgstack::doctor {

struct ServerCounters {
  double at = 0;  // when read, on the server's clock (Unix seconds)
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> blocks;  // database -> (hit, read)
  std::int64_t checkpoints_timed = 0;
  std::int64_t checkpoints_requested = 0;
};

class RateState {
 public:
  RateState() = default;  // keeps nothing between runs
  // Loads file; a missing or unreadable file is an empty state (the first run).
  explicit RateState(std::filesystem::path file);

  // What to measure from: the oldest snapshot of key taken within window seconds of now,
  // else the newest one before that; nullopt when there is none.
  std::optional<ServerCounters> baseline(const std::string& key, double now, double window) const;
  // Adds a snapshot, dropping those no baseline within window can use any more.
  void record(const std::string& key, ServerCounters counters, double window);
  // Writes the file (atomically); false when it cannot, which costs only the window.
  bool save() const;

 private:
  std::filesystem::path file_;
  std::map<std::string, std::vector<ServerCounters>> snapshots_;  // oldest first
};

// $XDG_STATE_HOME/pgstack/doctor-state.json, else ~/.local/state/pgstack/...; empty
// when neither variable is set.
std::filesystem::path default_state_file();

}  // namespace pgstack::doctor

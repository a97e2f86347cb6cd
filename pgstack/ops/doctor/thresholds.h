// Where doctor's checks (and the Prometheus rules of `pgstack metrics rules`) draw the
// line. Every threshold has a default that suits a production stack; pgstack.toml's
// [doctor] table overrides any of them, and tests lower them so alerts fire quickly.
//
//   # pgstack.toml
//   [doctor]
//   cache_hit_ratio_min = 0.99
//   replication_lag_seconds = 30
//
//   auto t = pgstack::doctor::load_thresholds("pgstack.toml", pgstack::capability::all_thresholds());
//   // defaults when absent; t.capability["job_oldest_available_seconds"] == 300
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/capability/capability.h"

namespace pgstack::doctor {

struct Thresholds {
  // The six alerts.
  double cache_hit_ratio_min = 0.95;        // blks_hit / (blks_hit + blks_read), over the window
  double replication_lag_seconds = 60;      // a standby's replay delay
  double dead_tuple_ratio = 0.20;           // n_dead_tup / (n_dead_tup + n_live_tup) of a table
  int idle_in_transaction_sessions = 5;     // more than this many sessions ...
  double idle_in_transaction_seconds = 30;  // ... idle in a transaction for longer than this
  double connections_ratio = 0.80;          // client connections / max_connections
  double requested_checkpoint_ratio = 0.20;  // checkpoints_req / all checkpoints, over the window

  // Rates (cache hit ratio, checkpoints) are measured since an earlier doctor run kept in
  // its state file: the oldest within this window, else the newest before it.
  double rate_window_seconds = 3600;
  // Fewer block accesses (hit or read) in the window are too few to judge: a fresh stack's
  // first catalog reads would read as a cold cache.
  std::int64_t cache_min_blocks = 50000;
  // Fewer checkpoints in the window are too few to judge: one backup's checkpoint would
  // read as 100% requested.
  std::int64_t checkpoints_min = 4;
  std::int64_t dead_tuples_min = 1000;   // smaller tables are vacuumed soon enough

  // PgHero's checks.
  double long_query_seconds = 60;
  double xid_remaining_warning = 1.5e9;  // transaction IDs left before wraparound
  double xid_remaining_critical = 5e8;
  double sequence_used_ratio = 0.90;
  std::int64_t unused_index_min_bytes = 1 << 20;  // smaller unused indexes cost too little to matter
  double slow_statement_ms = 100;                 // pg_stat_statements mean execution time
  std::int64_t slow_statement_min_calls = 10;
  std::int64_t inactive_slot_critical_bytes = std::int64_t{1} << 30;  // WAL an inactive slot holds back

  // The stack.
  double backup_max_age_hours = 26;         // the policy: a diff daily (docs/stack.md), plus slack

  // The capabilities' own (capability::Threshold), by key: job_oldest_available_seconds,
  // kv_dead_ratio, ... A key left out takes the default its health function has.
  std::map<std::string, double> capability;

  // Every threshold above by its [doctor] key, as pgstack.<name>_health() takes them.
  nlohmann::json to_json() const;
};

// The [doctor] table of file, over the defaults; capability_thresholds are the keys the
// capabilities add (capability::all_thresholds()). Throws pgstack::Error naming the file
// and key for an unknown key or a value out of range.
Thresholds load_thresholds(const std::filesystem::path& file,
                           const std::vector<capability::Threshold>& capability_thresholds);

}  // namespace pgstack::doctor

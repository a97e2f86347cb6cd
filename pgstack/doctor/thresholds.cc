#include "pgstack/doctor/thresholds.h"

#include "pgstack/cluster/toml_table.h"

namespace pgstack::doctor {

Thresholds load_thresholds(const std::filesystem::path& file) {
  Thresholds t;
  auto root = cluster::read_toml_file(file);
  cluster::TomlTable d(file, root, "doctor");
  constexpr double kDay = 86400;
  // Counts (blocks, rows, calls, bytes) far beyond any real server's, yet exact in a
  // double, as the Prometheus rules print them.
  constexpr std::int64_t kMany = std::int64_t{1} << 50;
  auto set = [&](double& field, const char* key, double min, double max) { field = d.number(key, min, max).value_or(field); };
  auto set_int = [&](auto& field, const char* key, double min, double max) {
    using T = std::remove_reference_t<decltype(field)>;
    if (auto v = d.integer(key, static_cast<int>(min), static_cast<int>(max))) field = static_cast<T>(*v);
  };
  auto set_count = [&](std::int64_t& field, const char* key, std::int64_t min, std::int64_t max) {
    field = d.whole_number(key, min, max).value_or(field);
  };
  set(t.cache_hit_ratio_min, "cache_hit_ratio_min", 0, 1);
  set(t.replication_lag_seconds, "replication_lag_seconds", 0, kDay);
  set(t.dead_tuple_ratio, "dead_tuple_ratio", 0, 1);
  set_int(t.idle_in_transaction_sessions, "idle_in_transaction_sessions", 0, 100000);
  set(t.idle_in_transaction_seconds, "idle_in_transaction_seconds", 0, kDay);
  set(t.connections_ratio, "connections_ratio", 0, 1);
  set(t.requested_checkpoint_ratio, "requested_checkpoint_ratio", 0, 1);
  set(t.rate_window_seconds, "rate_window_seconds", 1, 30 * kDay);
  set_count(t.cache_min_blocks, "cache_min_blocks", 0, kMany);
  set_count(t.checkpoints_min, "checkpoints_min", 1, 100000);
  set_count(t.dead_tuples_min, "dead_tuples_min", 0, kMany);
  set(t.long_query_seconds, "long_query_seconds", 0, kDay);
  set(t.xid_remaining_warning, "xid_remaining_warning", 0, 2.2e9);
  set(t.xid_remaining_critical, "xid_remaining_critical", 0, 2.2e9);
  set(t.sequence_used_ratio, "sequence_used_ratio", 0, 1);
  set_count(t.unused_index_min_bytes, "unused_index_min_bytes", 0, kMany);
  set(t.slow_statement_ms, "slow_statement_ms", 0, 1e9);
  set_count(t.slow_statement_min_calls, "slow_statement_min_calls", 0, kMany);
  set_count(t.inactive_slot_critical_bytes, "inactive_slot_critical_bytes", 0, kMany);
  set(t.backup_max_age_hours, "backup_max_age_hours", 0, 365 * 24);
  set(t.job_oldest_available_seconds, "job_oldest_available_seconds", 0, 30 * kDay);
  set_count(t.discarded_jobs_per_hour, "discarded_jobs_per_hour", 0, kMany);
  set(t.kv_dead_ratio, "kv_dead_ratio", 0, 1);
  d.done();
  if (t.xid_remaining_critical > t.xid_remaining_warning)
    d.fail("xid_remaining_critical", "is above xid_remaining_warning; the critical line must be the lower one");
  return t;
}

}  // namespace pgstack::doctor

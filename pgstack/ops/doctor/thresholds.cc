#include "pgstack/ops/doctor/thresholds.h"

#include <variant>

#include "pgstack/base/toml_table.h"

namespace pgstack::doctor {

namespace {

constexpr double kDay = 86400;
// Counts (blocks, rows, calls, bytes) far beyond any real server's, yet exact in a
// double, as the Prometheus rules print them.
constexpr double kMany = double(std::int64_t{1} << 50);

// One [doctor] key: the field it sets and the range it accepts.
struct Field {
  const char* key;
  std::variant<double Thresholds::*, std::int64_t Thresholds::*, int Thresholds::*> field;
  double min, max;
};

const Field kFields[] = {
    {"cache_hit_ratio_min", &Thresholds::cache_hit_ratio_min, 0, 1},
    {"replication_lag_seconds", &Thresholds::replication_lag_seconds, 0, kDay},
    {"dead_tuple_ratio", &Thresholds::dead_tuple_ratio, 0, 1},
    {"idle_in_transaction_sessions", &Thresholds::idle_in_transaction_sessions, 0, 100000},
    {"idle_in_transaction_seconds", &Thresholds::idle_in_transaction_seconds, 0, kDay},
    {"connections_ratio", &Thresholds::connections_ratio, 0, 1},
    {"requested_checkpoint_ratio", &Thresholds::requested_checkpoint_ratio, 0, 1},
    {"rate_window_seconds", &Thresholds::rate_window_seconds, 1, 30 * kDay},
    {"cache_min_blocks", &Thresholds::cache_min_blocks, 0, kMany},
    {"checkpoints_min", &Thresholds::checkpoints_min, 1, 100000},
    {"dead_tuples_min", &Thresholds::dead_tuples_min, 0, kMany},
    {"long_query_seconds", &Thresholds::long_query_seconds, 0, kDay},
    {"xid_remaining_warning", &Thresholds::xid_remaining_warning, 0, 2.2e9},
    {"xid_remaining_critical", &Thresholds::xid_remaining_critical, 0, 2.2e9},
    {"sequence_used_ratio", &Thresholds::sequence_used_ratio, 0, 1},
    {"unused_index_min_bytes", &Thresholds::unused_index_min_bytes, 0, kMany},
    {"slow_statement_ms", &Thresholds::slow_statement_ms, 0, 1e9},
    {"slow_statement_min_calls", &Thresholds::slow_statement_min_calls, 0, kMany},
    {"inactive_slot_critical_bytes", &Thresholds::inactive_slot_critical_bytes, 0, kMany},
    {"backup_max_age_hours", &Thresholds::backup_max_age_hours, 0, 365 * 24},
};

}  // namespace

nlohmann::json Thresholds::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : kFields) std::visit([&](auto member) { out[f.key] = this->*member; }, f.field);
  for (const auto& [key, value] : capability) out[key] = value;
  return out;
}

Thresholds load_thresholds(const std::filesystem::path& file,
                           const std::vector<capability::Threshold>& capability_thresholds) {
  Thresholds t;
  auto root = pgstack::read_toml_file(file);
  pgstack::TomlTable d(file, root, "doctor");
  for (const auto& f : kFields) {
    if (auto* real = std::get_if<double Thresholds::*>(&f.field)) {
      t.*(*real) = d.number(f.key, f.min, f.max).value_or(t.*(*real));
    } else if (auto* count = std::get_if<std::int64_t Thresholds::*>(&f.field)) {
      t.*(*count) = d.whole_number(f.key, static_cast<std::int64_t>(f.min), static_cast<std::int64_t>(f.max))
                        .value_or(t.*(*count));
    } else if (auto* small = std::get_if<int Thresholds::*>(&f.field)) {
      if (auto v = d.integer(f.key, static_cast<int>(f.min), static_cast<int>(f.max))) t.*(*small) = *v;
    }
  }
  for (const auto& c : capability_thresholds) {
    t.capability[c.key] =
        c.integer ? static_cast<double>(d.whole_number(c.key, static_cast<std::int64_t>(c.min), static_cast<std::int64_t>(c.max))
                                            .value_or(static_cast<std::int64_t>(c.value)))
                  : d.number(c.key, c.min, c.max).value_or(c.value);
  }
  d.done();
  if (t.xid_remaining_critical > t.xid_remaining_warning)
    d.fail("xid_remaining_critical", "is above xid_remaining_warning; the critical line must be the lower one");
  return t;
}

}  // namespace pgstack::doctor

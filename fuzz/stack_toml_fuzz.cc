// pgstack.toml, read as `pgstack up` and `pgstack doctor` read it: load_stack_config
// (pgstack/ops/stack/stack_config.h) and load_thresholds (pgstack/ops/doctor/thresholds.h), on
// the input written to a file. Beyond not crashing: a refused file gets pgstack::Error
// naming the file (no raw toml++ text), and an accepted one holds only values in the
// ranges the loaders promise — ports 1024..65535 given to one component each, [tune]
// within tune's limits, server settings one postgresql.conf line each, every threshold a
// finite number within its key's range.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "fuzz/fuzz_support.h"
#include "pgstack/ops/stack/stack_config.h"
#include "pgstack/ops/doctor/thresholds.h"
#include "pgstack/pg/errors.h"
#include "pgstack/ops/tune/tune.h"

namespace fs = std::filesystem;
using pgstack::fuzz::require;

namespace {

// One file per fuzzing process, rewritten for every input, removed at exit. Never
// destroyed: the exit handler that removes it runs after static destructors would.
const fs::path& input_file() {
  static const fs::path* file = [] {
    auto dir = fs::temp_directory_path() / ("pgstack-fuzz-" + std::to_string(getpid()));
    fs::create_directories(dir);
    std::atexit([] { fs::remove_all(input_file().parent_path()); });
    return new fs::path(dir / "pgstack.toml");
  }();
  return *file;
}

void check_stack_config(const pgstack::stack::StackConfig& c) {
  std::set<int> ports;
  for (const auto& port : {c.primary_port, c.standby_port, c.pgbouncer_port}) {
    if (!port) continue;
    require(*port >= 1024 && *port <= 65535, "a port out of range was accepted", std::to_string(*port));
    require(ports.insert(*port).second, "one port was given to two components", std::to_string(*port));
  }
  if (c.max_connections) require(*c.max_connections >= 20 && *c.max_connections <= 10000, "max_connections out of range");
  if (c.pgbouncer)
    require(c.pgbouncer->max_db_connections >= c.pgbouncer->default_pool_size,
            "max_db_connections below default_pool_size was accepted");
  if (c.tune_memory) require(pgstack::tune::memory_problem(*c.tune_memory).empty(), "[tune] memory past tune's limits");
  if (c.tune_cpus) require(*c.tune_cpus >= 1 && *c.tune_cpus <= pgstack::tune::kMaxCores, "[tune] cpus out of range");
  // A setting's value goes into postgresql.conf as one line.
  for (const auto* settings : {&c.primary_settings, &c.standby_settings})
    for (const auto& [name, value] : *settings)
      require(value.find('\n') == std::string::npos && value.find('\r') == std::string::npos,
              "a setting's value would break its postgresql.conf line", name);
  if (c.backup_repository)
    require(c.backup_repository->type == "posix" || c.backup_repository->type == "s3", "an unknown backup type",
            c.backup_repository->type);
}

// Capability thresholds as a capability declares them (capability.h): a ratio and a count.
const std::vector<pgstack::capability::Threshold> kCapabilityThresholds = {
    {.key = "kv_dead_ratio", .value = 0.5, .min = 0, .max = 1},
    {.key = "discarded_jobs_per_hour", .value = 10, .min = 0, .max = double(std::int64_t{1} << 50), .integer = true},
};

void check_thresholds(const pgstack::doctor::Thresholds& t) {
  for (double ratio : {t.cache_hit_ratio_min, t.dead_tuple_ratio, t.connections_ratio, t.requested_checkpoint_ratio,
                       t.sequence_used_ratio})
    require(ratio >= 0 && ratio <= 1, "a ratio outside 0..1 (or NaN) was accepted", std::to_string(ratio));
  for (double v : {t.replication_lag_seconds, t.idle_in_transaction_seconds, t.rate_window_seconds,
                   t.long_query_seconds, t.xid_remaining_warning, t.xid_remaining_critical, t.slow_statement_ms,
                   t.backup_max_age_hours})
    require(std::isfinite(v) && v >= 0, "a threshold that is not a finite number >= 0 was accepted", std::to_string(v));
  for (std::int64_t n : {t.cache_min_blocks, t.checkpoints_min, t.dead_tuples_min, t.unused_index_min_bytes,
                         t.slow_statement_min_calls, t.inactive_slot_critical_bytes})
    require(n >= 0, "a negative count was accepted", std::to_string(n));
  for (const auto& declared : kCapabilityThresholds) {
    const double v = t.capability.at(declared.key);
    require(v >= declared.min && v <= declared.max, "a capability threshold outside its range was accepted",
            declared.key);
    require(!declared.integer || v == std::floor(v), "a fraction was accepted for a count", declared.key);
  }
  require(t.xid_remaining_critical <= t.xid_remaining_warning, "xid critical above warning was accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const fs::path& file = input_file();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    check_stack_config(pgstack::stack::load_stack_config(file));
  } catch (const pgstack::Error& e) {
    pgstack::fuzz::require_clear_message(e.what(), file.string(), pgstack::fuzz::as_text(data, size));
  }
  try {
    check_thresholds(pgstack::doctor::load_thresholds(file, kCapabilityThresholds));
  } catch (const pgstack::Error& e) {
    pgstack::fuzz::require_clear_message(e.what(), file.string(), pgstack::fuzz::as_text(data, size));
  }
  return 0;
}

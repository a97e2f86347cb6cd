#include "pgstack/ops/tune/tune.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace pgstack::tune {
namespace {

// PostgreSQL's lower bounds (guc_tables.c) for the memory settings we compute.
constexpr std::uint64_t kMinSharedBuffers = 128 * kKiB;
constexpr std::uint64_t kMinWorkMem = 64 * kKiB;
constexpr std::uint64_t kMinMaintenanceWorkMem = 1 * kMiB;
constexpr std::uint64_t kMinWalBuffers = 32 * kKiB;
constexpr std::uint64_t kMinEffectiveCacheSize = 8 * kKiB;

// The stack's web baseline gives a 32 GB machine 64 MB of work_mem: RAM / 512.
constexpr std::uint64_t kWorkMemDivisor = 512;

std::string conf_string(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// "; memory is this server's share, the host's / 2 (2 servers share the host)", or "" for
// a host of its own: the generated config says why its figures are a fraction of the host's.
std::string share_note(int servers, const char* what) {
  if (servers <= 1) return "";
  return fmt::format("; {} is this server's share, the host's / {} ({} servers share the host)", what, servers, servers);
}

void check_upper_limits(const TuneInput& in) {
  for (const auto& problem : {in.memory > kMaxMemory ? memory_problem(in.memory) : std::string(),
                              cores_problem(std::max(in.cores, 1)), connections_problem(std::max(in.connections, 1)),
                              servers_on_host_problem(std::max(in.servers_on_host, 1))})
    if (!problem.empty()) throw std::invalid_argument("pgstack::tune::recommend: " + problem);
}

}  // namespace

std::string memory_problem(std::uint64_t bytes) {
  if (bytes < kMiB) return "is less than 1MB; give the memory the server may use, e.g. 4GB";
  if (bytes > kMaxMemory)
    return fmt::format("is {}, above the {} tune accepts: PostgreSQL's effective_cache_size (3/4 of memory) "
                       "cannot exceed 16TB; give the memory the server may really use, e.g. 64GB",
                       format_memory(bytes), format_memory(kMaxMemory));
  return "";
}

std::string cores_problem(int cores) {
  if (cores < 1) return fmt::format("is {}; it must be at least 1", cores);
  if (cores > kMaxCores)
    return fmt::format("is {}, above the {} tune accepts: PostgreSQL's max_parallel_workers (one per core) "
                       "cannot exceed {}; give the cores the server may use",
                       cores, kMaxCores, kMaxCores);
  return "";
}

std::string connections_problem(int connections) {
  if (connections < 1) return fmt::format("is {}; it must be at least 1", connections);
  if (connections > kMaxConnections)
    return fmt::format("is {}, above the {} tune accepts: PostgreSQL runs at most {} backends, connections and "
                       "workers together; put PgBouncer in front instead (a few hundred server connections serve "
                       "thousands of clients)",
                       connections, kMaxConnections, kMaxBackends);
  return "";
}

std::string servers_on_host_problem(int servers) {
  if (servers < 1) return fmt::format("is {}; it must be at least 1", servers);
  if (servers > kMaxServersOnHost)
    return fmt::format("is {}, above the {} tune accepts: each server's share would be too small to tune for",
                       servers, kMaxServersOnHost);
  return "";
}

const char* to_string(Storage storage) { return storage == Storage::ssd ? "ssd" : "hdd"; }

const char* to_string(Workload workload) {
  switch (workload) {
    case Workload::web: return "web";
    case Workload::oltp: return "oltp";
    case Workload::analytics: return "analytics";
  }
  return "web";
}

std::optional<Storage> parse_storage(std::string_view text) {
  if (text == "ssd") return Storage::ssd;
  if (text == "hdd") return Storage::hdd;
  return std::nullopt;
}

std::optional<Workload> parse_workload(std::string_view text) {
  if (text == "web") return Workload::web;
  if (text == "oltp") return Workload::oltp;
  if (text == "analytics") return Workload::analytics;
  return std::nullopt;
}

std::string format_memory(std::uint64_t bytes) {
  std::uint64_t kb = bytes / kKiB;
  if (kb >= 1024) kb -= kb % 1024;  // whole MB from 1 MB up: easier to read and compare
  if (kb != 0 && kb % (1024ull * 1024 * 1024) == 0) return fmt::format("{}TB", kb / (1024ull * 1024 * 1024));
  if (kb != 0 && kb % (1024 * 1024) == 0) return fmt::format("{}GB", kb / (1024 * 1024));
  if (kb != 0 && kb % 1024 == 0) return fmt::format("{}MB", kb / 1024);
  return fmt::format("{}kB", kb);
}

std::optional<std::uint64_t> parse_memory(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  std::size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  if (digits == 0) return std::nullopt;
  double number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc{} || ptr != text.data() + digits || number < 0) return std::nullopt;
  std::string unit;
  for (char c : text.substr(digits))
    if (!std::isspace(static_cast<unsigned char>(c))) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "kb" || unit == "k" || unit == "kib") scale = kKiB;
  else if (unit == "mb" || unit == "m" || unit == "mib") scale = kMiB;
  else if (unit == "gb" || unit == "g" || unit == "gib") scale = kGiB;
  else if (unit == "tb" || unit == "t" || unit == "tib") scale = 1024 * kGiB;
  else return std::nullopt;
  double bytes = number * static_cast<double>(scale);
  if (bytes >= 1.8e19) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::vector<Setting> recommend(const TuneInput& in) {
  check_upper_limits(in);
  // Servers on one host split its memory and cores: two servers each taking 1/4 of
  // the host's memory for shared_buffers would leave the OS cache half of what the
  // rules assume, and parallel workers would oversubscribe the cores.
  const int servers = std::max(in.servers_on_host, 1);
  // The floor applies to the host, so the servers' shares never add up to more than it.
  const std::uint64_t ram = std::max<std::uint64_t>(in.memory, 64 * kMiB) / static_cast<std::uint64_t>(servers);
  const int cores = std::max(std::max(in.cores, 1) / servers, 1);
  const std::string of_memory = share_note(servers, "memory");
  const std::string of_cores = share_note(servers, "cores");
  const int connections = std::max(in.connections, 1);
  const bool ssd = in.storage == Storage::ssd;
  std::vector<Setting> out;
  auto add = [&](std::string name, std::string value, std::string reason) {
    out.push_back({std::move(name), std::move(value), std::move(reason)});
  };
  auto memory = [](std::uint64_t bytes, std::uint64_t minimum) { return format_memory(std::max(bytes, minimum)); };

  add("max_connections", std::to_string(connections), "the connections asked for; PgBouncer keeps server connections far below this");

  const std::uint64_t shared_buffers = std::max(ram / 4, kMinSharedBuffers);
  add("shared_buffers", memory(shared_buffers, kMinSharedBuffers), "1/4 of memory (pgtune); the OS page cache holds the rest" + of_memory);
  add("effective_cache_size", memory(ram / 4 * 3, kMinEffectiveCacheSize),
      "3/4 of memory: what the planner may assume shared_buffers plus the OS cache hold" + of_memory);
  add("maintenance_work_mem", memory(std::min(ram / 16, 2 * kGiB), kMinMaintenanceWorkMem),
      "1/16 of memory capped at 2GB: VACUUM and CREATE INDEX run faster with more" + of_memory);

  // work_mem: the stack's baseline (64MB at 32GB, i.e. memory / 512) scaled with memory,
  // doubled for analytics' big sorts and hashes, and capped so every connection can hold
  // one work_mem beside shared_buffers.
  const std::uint64_t work_factor = in.workload == Workload::analytics ? 2 : 1;
  const std::uint64_t work_target = ram / kWorkMemDivisor * work_factor;
  const std::uint64_t work_cap = (ram - shared_buffers) / static_cast<std::uint64_t>(connections);
  add("work_mem", memory(std::min(work_target, work_cap), kMinWorkMem),
      in.workload == Workload::analytics
          ? "memory/256 (twice the web baseline), at most (memory - shared_buffers)/max_connections, at least 64kB" + of_memory
          : "memory/512 (the stack's 64MB at 32GB), at most (memory - shared_buffers)/max_connections, at least 64kB" + of_memory);

  std::uint64_t wal_buffers = std::min(shared_buffers * 3 / 100, 16 * kMiB);
  if (wal_buffers > 14 * kMiB) wal_buffers = 16 * kMiB;  // a WAL segment: round up as pgtune does
  add("wal_buffers", memory(wal_buffers, kMinWalBuffers), "3% of shared_buffers capped at 16MB (one WAL segment)");

  add("checkpoint_completion_target", "0.9", "spread checkpoint writes over 90% of the interval");
  add("checkpoint_timeout", "15min", "fewer checkpoints and full-page writes than the 5min default");
  const char* min_wal = in.workload == Workload::web ? "1GB" : in.workload == Workload::oltp ? "2GB" : "4GB";
  const char* max_wal = in.workload == Workload::web ? "4GB" : in.workload == Workload::oltp ? "8GB" : "16GB";
  add("min_wal_size", min_wal, fmt::format("pgtune's figure for {}: recycle WAL segments instead of creating them", to_string(in.workload)));
  add("max_wal_size", max_wal, fmt::format("pgtune's figure for {}: checkpoints come from the timeout, not WAL volume", to_string(in.workload)));
  add("wal_level", "replica", "enough for the hot standby and pgBackRest's WAL archive");
  add("wal_compression", "on", "smaller full-page images for a little CPU");

  add("default_statistics_target", in.workload == Workload::analytics ? "500" : "100",
      in.workload == Workload::analytics ? "finer statistics for complex analytic plans" : "PostgreSQL's default suits short queries");
  add("random_page_cost", ssd ? "1.1" : "4", ssd ? "random reads cost almost as little as sequential ones on SSD" : "the default for spinning disks");
  add("effective_io_concurrency", ssd ? "200" : "2", ssd ? "SSDs serve many reads in parallel" : "a spinning disk serves few reads at once");

  if (cores >= 4) {
    const int per_gather = std::min(4, (cores + 1) / 2);
    add("max_worker_processes", std::to_string(cores), "one background worker per core" + of_cores);
    add("max_parallel_workers", std::to_string(cores), "parallel query may use every core" + of_cores);
    add("max_parallel_workers_per_gather", std::to_string(per_gather), "half the cores per query, at most 4 (pgtune)" + of_cores);
    add("max_parallel_maintenance_workers", std::to_string(per_gather), "half the cores for CREATE INDEX, at most 4 (pgtune)" + of_cores);
  }

  const int av_workers = std::clamp(cores * 3 / 4, 3, 8);
  add("autovacuum_max_workers", std::to_string(av_workers), "3/4 of the cores, from 3 to 8: queue tables need vacuum often" + of_cores);
  add("autovacuum_vacuum_cost_delay", "2ms", "PostgreSQL 12+'s default: short naps between vacuum rounds");
  add("autovacuum_vacuum_cost_limit", ssd ? "2000" : "800",
      ssd ? "10x the default: SSDs absorb vacuum I/O, and dead tuples go sooner" : "4x the default: spinning disks absorb less vacuum I/O");

  add("log_min_duration_statement", "1000", "log statements slower than 1s (milliseconds)");
  add("log_line_prefix", conf_string("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "), "time, pid, user, database, application and client on every line (pgBadger's format)");
  if (!in.preload_libraries.empty())
    add("shared_preload_libraries", conf_string(join(in.preload_libraries, ", ")), "query statistics and in-database cron need loading at start");
  if (std::find(in.preload_libraries.begin(), in.preload_libraries.end(), "pg_stat_statements") != in.preload_libraries.end())
    add("pg_stat_statements.track", "all", "count statements inside functions too");
  return out;
}

std::string to_conf(const std::vector<Setting>& settings) {
  std::size_t width = 0;
  for (const auto& s : settings) width = std::max(width, s.name.size() + 3 + s.value.size());
  std::string out;
  for (const auto& s : settings) {
    std::string line = s.name + " = " + s.value;
    out += fmt::format("{:<{}}  # {}\n", line, width, s.reason);
  }
  return out;
}

}  // namespace pgstack::tune

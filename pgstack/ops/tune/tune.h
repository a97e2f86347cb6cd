// Server settings for this machine: detects memory and cores (honouring the
// container's cgroup limits, never the host's figures) and recommends postgresql.conf
// settings by pgtune's rules, adjusted to the stack's documented baseline (docs/tune.md).
//
//   auto machine = pgstack::tune::detect_machine();
//   auto settings = pgstack::tune::recommend({.memory = machine.memory, .cores = machine.cores});
//   std::cout << pgstack::tune::to_conf(settings);
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgstack::tune {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;
inline constexpr std::uint64_t kTiB = 1024 * kGiB;

// The largest inputs tune accepts. Beyond them PostgreSQL could not hold what the rules
// say, and clamping would hide a typo (--memory 100000TB), so they are refused.
// effective_cache_size (3/4 of memory) is at most 2^31-1 pages of 8kB, just under 16TB.
inline constexpr std::uint64_t kMaxMemory = 16 * kTiB;
// max_parallel_workers (= cores) is at most 1024.
inline constexpr int kMaxCores = 1024;
// PostgreSQL runs at most 262143 backends: max_connections + autovacuum_max_workers (tune:
// at most 8) + max_worker_processes (tune: at most kMaxCores) + max_wal_senders (10) + 1.
inline constexpr int kMaxBackends = 262143;
inline constexpr int kMaxConnections = kMaxBackends - 8 - kMaxCores - 10 - 1;
// Servers sharing one host's memory and cores; more leaves each too little to tune.
inline constexpr int kMaxServersOnHost = 64;

enum class Storage { ssd, hdd };
enum class Workload { web, oltp, analytics };

const char* to_string(Storage storage);
const char* to_string(Workload workload);
std::optional<Storage> parse_storage(std::string_view text);
std::optional<Workload> parse_workload(std::string_view text);

struct TuneInput {
  std::uint64_t memory = 0;  // bytes the server may use (RAM or the cgroup limit)
  int cores = 1;
  int connections = 200;
  Storage storage = Storage::ssd;
  Workload workload = Workload::web;
  // PostgreSQL servers on the host sharing memory and cores (the stack's primary and
  // standby: 2). Each is tuned for memory / servers_on_host and cores / servers_on_host.
  int servers_on_host = 1;
  // shared_preload_libraries, in order. The stack drops pg_cron when the package is
  // missing (the server would refuse to start).
  std::vector<std::string> preload_libraries = {"pg_stat_statements", "pg_cron"};
};

struct Setting {
  std::string name;
  std::string value;   // as written in postgresql.conf: 8GB, 0.9, 15min, '...'
  std::string reason;  // one line: the rule behind the value
};

// Why an input cannot be tuned for, naming the limit and what to do, or "" when it can.
// Callers prefix where the value came from ("--memory 100000TB", "[tune] memory").
std::string memory_problem(std::uint64_t bytes);
std::string cores_problem(int cores);
std::string connections_problem(int connections);
std::string servers_on_host_problem(int servers);

// Settings for input; every value is within PostgreSQL's minimum and maximum for the
// setting. Throws std::invalid_argument (with the problem above) for an input beyond the
// limits, which callers check first.
std::vector<Setting> recommend(const TuneInput& input);

// postgresql.conf text: one `name = value  # reason` line per setting.
std::string to_conf(const std::vector<Setting>& settings);

// A byte count in PostgreSQL's memory units, floored to whole MB from 1 MB up (whole
// kB below), in the largest unit that divides it: 8GB, 3932kB, 1536MB, 4TB.
std::string format_memory(std::uint64_t bytes);
// Parses "32GB", "512MB", "1.5GB", "64kB", "1073741824" (bytes; units are powers of 1024).
std::optional<std::uint64_t> parse_memory(std::string_view text);

// ---- Detection ---------------------------------------------------------------

struct Machine {
  std::uint64_t memory = 0;  // bytes: min(MemTotal, cgroup limit)
  int cores = 1;             // min(hardware threads, ceil(cgroup CPU quota))
  std::string memory_source; // "MemTotal" or the cgroup file that limited it
  std::string cores_source;  // "hardware threads" or the cgroup file that limited it
};

struct DetectOptions {
  // Where /proc and /sys are found; tests point it at a folder of fake files.
  std::filesystem::path root = "/";
  // Hardware threads; 0 asks std::thread::hardware_concurrency().
  unsigned hardware_threads = 0;
};

Machine detect_machine(const DetectOptions& options = {});

// The pieces of detection, exposed so tests can feed them file contents.

// MemTotal from /proc/meminfo, in bytes.
std::optional<std::uint64_t> parse_meminfo_total(std::string_view meminfo);
// memory.max (v2) or memory.limit_in_bytes (v1): bytes, or nullopt for "max" and for
// v1's "unlimited" (a number near 2^63).
std::optional<std::uint64_t> parse_memory_limit(std::string_view contents);
// cpu.max (v2), "200000 100000" -> 2.0 CPUs; nullopt for "max 100000".
std::optional<double> parse_cpu_max(std::string_view contents);
// cpu.cfs_quota_us and cpu.cfs_period_us (v1); nullopt for quota -1.
std::optional<double> parse_cfs_quota(std::string_view quota, std::string_view period);

struct CgroupMount {
  int version = 2;                       // 1 or 2
  std::vector<std::string> controllers;  // v1 only: memory, cpu, cpuacct...
  std::string root;                      // the cgroup path mounted there
  std::string mount_point;               // e.g. /sys/fs/cgroup/memory
};
// The cgroup mounts listed in /proc/self/mountinfo.
std::vector<CgroupMount> parse_mountinfo(std::string_view mountinfo);

struct ProcessCgroups {
  std::string v2;      // path from the "0::" line
  std::string memory;  // v1 memory controller's path
  std::string cpu;     // v1 cpu controller's path
};
ProcessCgroups parse_proc_cgroup(std::string_view proc_self_cgroup);

}  // namespace pgstack::tune

#include "pgstack/ops/tune/tune.h"

#include <map>

#include <gtest/gtest.h>

#include "pgstack/ops/tune/documented_baseline.h"

namespace pgstack::tune {
namespace {

std::map<std::string, std::string> as_map(const std::vector<Setting>& settings) {
  std::map<std::string, std::string> out;
  for (const auto& s : settings) {
    EXPECT_FALSE(s.reason.empty()) << s.name;
    EXPECT_EQ(s.reason.find('\n'), std::string::npos) << s.name;
    EXPECT_TRUE(out.emplace(s.name, s.value).second) << "duplicate " << s.name;
  }
  return out;
}

// The stack's documented baseline; `pgstack tune` must reproduce it exactly.
TEST(Recommend, Baseline32GbEightCoresSsdWeb) {
  auto got = as_map(recommend({.memory = 32 * kGiB, .cores = 8, .connections = 200,
                               .storage = Storage::ssd, .workload = Workload::web}));
  for (const auto& [name, value] : pgstack::tune::documented_baseline_32gb()) {
    ASSERT_TRUE(got.count(name)) << name << " missing";
    EXPECT_EQ(got[name], value) << name;
  }
  // pgtune's other rules for this machine.
  EXPECT_EQ(got["wal_buffers"], "16MB");
  EXPECT_EQ(got["random_page_cost"], "1.1");
  EXPECT_EQ(got["effective_io_concurrency"], "200");
  EXPECT_EQ(got["max_worker_processes"], "8");
  EXPECT_EQ(got["max_parallel_workers"], "8");
  EXPECT_EQ(got["max_parallel_workers_per_gather"], "4");
}

std::uint64_t to_bytes(const std::string& value) {
  auto v = parse_memory(value);
  EXPECT_TRUE(v) << value;
  return v.value_or(0);
}

TEST(Recommend, TinyMachineStaysAboveMinimums) {
  auto got = as_map(recommend({.memory = 512 * kMiB, .cores = 1}));
  EXPECT_EQ(got["shared_buffers"], "128MB");
  EXPECT_EQ(got["effective_cache_size"], "384MB");
  EXPECT_EQ(got["maintenance_work_mem"], "32MB");
  EXPECT_GE(to_bytes(got["work_mem"]), 64 * kKiB);
  EXPECT_LE(to_bytes(got["work_mem"]) * 200, 512 * kMiB);  // 200 sorts at once still fit
  EXPECT_GE(to_bytes(got["wal_buffers"]), 32 * kKiB);
  EXPECT_GE(std::stoi(got["autovacuum_max_workers"]), 1);
  EXPECT_FALSE(got.count("max_parallel_workers_per_gather"));  // 1 core: keep defaults
}

TEST(Recommend, ExtremesNeverGoBelowPostgresMinimums) {
  for (std::uint64_t mem : {std::uint64_t{0}, 1 * kMiB, 64 * kMiB, 256 * kMiB, 512 * kGiB}) {
    for (int conns : {1, 200, 10000}) {
      auto got = as_map(recommend({.memory = mem, .cores = 0, .connections = conns, .workload = Workload::analytics}));
      EXPECT_GE(to_bytes(got["work_mem"]), 64 * kKiB) << mem << " " << conns;
      EXPECT_GE(to_bytes(got["shared_buffers"]), 128 * kKiB);
      EXPECT_GE(to_bytes(got["maintenance_work_mem"]), 1 * kMiB);
      EXPECT_LE(to_bytes(got["maintenance_work_mem"]), 2 * kGiB);
      EXPECT_GE(to_bytes(got["wal_buffers"]), 32 * kKiB);
      EXPECT_LE(to_bytes(got["wal_buffers"]), 16 * kMiB);
    }
  }
}

TEST(Recommend, WorkloadAndStorageChangeTheirSettings) {
  auto hdd = as_map(recommend({.memory = 32 * kGiB, .cores = 8, .storage = Storage::hdd, .workload = Workload::oltp}));
  EXPECT_EQ(hdd["random_page_cost"], "4");
  EXPECT_EQ(hdd["effective_io_concurrency"], "2");
  EXPECT_EQ(hdd["max_wal_size"], "8GB");
  auto analytics = as_map(recommend({.memory = 32 * kGiB, .cores = 8, .workload = Workload::analytics}));
  EXPECT_GT(to_bytes(analytics["work_mem"]), 64 * kMiB);
  EXPECT_EQ(analytics["default_statistics_target"], "500");
  // Many connections shrink work_mem so they all fit beside shared_buffers.
  auto crowded = as_map(recommend({.memory = 32 * kGiB, .cores = 8, .connections = 2000}));
  EXPECT_LE(to_bytes(crowded["work_mem"]) * 2000, 24 * kGiB);
}

TEST(Recommend, PreloadListFollowsInput) {
  auto got = as_map(recommend({.memory = 4 * kGiB, .cores = 2, .preload_libraries = {"pg_stat_statements"}}));
  EXPECT_EQ(got["shared_preload_libraries"], "'pg_stat_statements'");
  auto none = as_map(recommend({.memory = 4 * kGiB, .cores = 2, .preload_libraries = {}}));
  EXPECT_FALSE(none.count("shared_preload_libraries"));
  EXPECT_FALSE(none.count("pg_stat_statements.track"));
}

// The stack's primary and standby on one host: each gets half of its memory and cores,
// so together they take the budget one server would (1/4 of memory for shared_buffers).
TEST(Recommend, ServersSharingAHostSplitItsMemoryAndCores) {
  auto alone = as_map(recommend({.memory = 32 * kGiB, .cores = 8}));
  const auto shared = recommend({.memory = 32 * kGiB, .cores = 8, .servers_on_host = 2});
  auto got = as_map(shared);
  EXPECT_EQ(got["shared_buffers"], "4GB");
  EXPECT_EQ(got["effective_cache_size"], "12GB");
  EXPECT_EQ(got["work_mem"], "32MB");
  EXPECT_EQ(got["maintenance_work_mem"], "1GB");
  EXPECT_EQ(got["max_worker_processes"], "4");
  EXPECT_EQ(got["max_parallel_workers"], "4");
  EXPECT_LE(2 * to_bytes(got["shared_buffers"]), to_bytes(alone["shared_buffers"]));
  EXPECT_LE(2 * to_bytes(got["effective_cache_size"]), to_bytes(alone["effective_cache_size"]));
  for (const auto& s : shared)
    if (s.name == "shared_buffers" || s.name == "work_mem" || s.name == "max_worker_processes") {
      EXPECT_NE(s.reason.find("2 servers share the host"), std::string::npos) << s.name << ": " << s.reason;
    }
  for (const auto& s : recommend({.memory = 32 * kGiB, .cores = 8}))
    EXPECT_EQ(s.reason.find("share the host"), std::string::npos) << s.name << ": " << s.reason;
  // Even a host below the 64MB floor is split, not given twice.
  auto tiny = as_map(recommend({.memory = 16 * kMiB, .cores = 1, .servers_on_host = 2}));
  EXPECT_LE(2 * to_bytes(tiny["shared_buffers"]), 64 * kMiB / 4);
}

TEST(Limits, InputsBeyondPostgresLimitsNameTheLimit) {
  EXPECT_EQ(memory_problem(kMaxMemory), "");
  EXPECT_EQ(memory_problem(1 * kMiB), "");
  EXPECT_NE(memory_problem(kMaxMemory + kMiB).find("16TB"), std::string::npos) << memory_problem(kMaxMemory + kMiB);
  EXPECT_NE(memory_problem(100000 * kTiB).find("effective_cache_size"), std::string::npos);
  EXPECT_NE(memory_problem(kMiB - 1).find("1MB"), std::string::npos);
  EXPECT_EQ(cores_problem(kMaxCores), "");
  EXPECT_NE(cores_problem(kMaxCores + 1).find("1024"), std::string::npos);
  EXPECT_NE(cores_problem(0), "");
  EXPECT_EQ(connections_problem(kMaxConnections), "");
  EXPECT_NE(connections_problem(kMaxConnections + 1).find(std::to_string(kMaxConnections)), std::string::npos);
  EXPECT_EQ(servers_on_host_problem(2), "");
  EXPECT_NE(servers_on_host_problem(0), "");
}

// recommend() never emits a value past PostgreSQL's maximum: it refuses the input.
TEST(Limits, RecommendRefusesInputsBeyondTheLimits) {
  EXPECT_THROW(recommend({.memory = 100000 * kTiB, .cores = 8}), std::invalid_argument);
  EXPECT_THROW(recommend({.memory = 4 * kGiB, .cores = kMaxCores + 1}), std::invalid_argument);
  EXPECT_THROW(recommend({.memory = 4 * kGiB, .cores = 8, .connections = kMaxConnections + 1}), std::invalid_argument);
  auto top = as_map(recommend({.memory = kMaxMemory, .cores = kMaxCores, .connections = kMaxConnections}));
  EXPECT_EQ(top["shared_buffers"], "4TB");
  EXPECT_EQ(top["effective_cache_size"], "12TB");
  EXPECT_EQ(top["max_parallel_workers"], "1024");
}

TEST(Format, MemoryUnits) {
  EXPECT_EQ(format_memory(8 * kGiB), "8GB");
  EXPECT_EQ(format_memory(4 * kTiB), "4TB");
  EXPECT_EQ(format_memory(1536 * kGiB), "1536GB");
  EXPECT_EQ(format_memory(1536 * kMiB), "1536MB");
  EXPECT_EQ(format_memory(64 * kKiB), "64kB");
  EXPECT_EQ(format_memory(6171023 * kKiB), "6026MB");  // floored to whole MB
  EXPECT_EQ(parse_memory("32GB"), 32 * kGiB);
  EXPECT_EQ(parse_memory("1.5GB"), 1536 * kMiB);
  EXPECT_EQ(parse_memory("64kB"), 64 * kKiB);
  EXPECT_EQ(parse_memory("100"), 100u);
  EXPECT_FALSE(parse_memory("lots"));
  EXPECT_FALSE(parse_memory("12XB"));
}

TEST(Format, ConfLines) {
  auto text = to_conf({{"work_mem", "64MB", "why"}, {"log_line_prefix", "'%t '", "because"}});
  EXPECT_NE(text.find("work_mem = 64MB"), std::string::npos);
  EXPECT_NE(text.find("# why\n"), std::string::npos);
  EXPECT_NE(text.find("log_line_prefix = '%t '"), std::string::npos);
}

}  // namespace
}  // namespace pgstack::tune

// Each server's settings: tune's for its share of the host, pgstack.toml's over them,
// and PostgreSQL's own binary (postgres -C) as the judge of names and values, before
// `up` changes anything. No running server needed.
#include "pgstack/ops/stack/server_settings.h"

#include <stdlib.h>

#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "pgstack/ops/stack/stack.h"
#include "pgstack/pg/errors.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> by_name(const std::vector<tune::Setting>& settings) {
  std::map<std::string, std::string> out;
  for (const auto& s : settings) EXPECT_TRUE(out.emplace(s.name, s.value).second) << "twice: " << s.name;
  return out;
}

class ServerSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgstack-settings-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    // The server user passes through to the stack's folder (up's preflight checks it).
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    layout_ = ClusterLayout::local(dir_ / ".pgstack", 6000);
    layout_.add_standby();
  }
  void TearDown() override { fs::remove_all(dir_); }
  StackConfig config(const std::string& toml) {
    auto file = dir_ / "pgstack.toml";
    std::ofstream(file) << toml;
    return load_stack_config(file);
  }
  std::string error_for(const std::string& toml) {
    try {
      check_server_settings(layout_, config(toml), 200);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  fs::path dir_;
  ClusterLayout layout_;
};

// PostgreSQL's own limits: whatever tune emits at its largest accepted inputs, postgres
// takes; past them (the 100000TB of issue 14) it would not, and tune refuses instead.
TEST(PostgresJudge, TuneAtItsLimitsIsWithinEveryPostgresMaximum) {
  EXPECT_EQ(postgres_rejects(tune::recommend({.memory = tune::kMaxMemory,
                                              .cores = tune::kMaxCores,
                                              .connections = tune::kMaxConnections,
                                              .workload = tune::Workload::analytics})),
            "");
  EXPECT_EQ(postgres_rejects(tune::recommend({.memory = tune::kMaxMemory, .cores = tune::kMaxCores,
                                              .connections = 1, .servers_on_host = 2})),
            "");
  EXPECT_EQ(postgres_rejects(tune::recommend({.memory = tune::kMiB, .cores = 1, .connections = 1})), "");
  // What tune would have said for 100000TB without its limit, and what postgres says.
  auto complaint = postgres_rejects({{"shared_buffers", "25600000GB", ""}});
  EXPECT_NE(complaint.find("shared_buffers"), std::string::npos) << complaint;
  EXPECT_NE(postgres_rejects({{"effective_cache_size", "17TB", ""}}), "");
  EXPECT_NE(postgres_rejects({{"max_parallel_workers", "1025", ""}}), "");
}

TEST(PostgresJudge, UnknownNamesAndBadValuesGetPostgresReason) {
  EXPECT_NE(postgres_rejects({{"shard_buffers", "1GB", ""}}).find("unrecognized configuration parameter \"shard_buffers\""),
            std::string::npos);
  auto bad = postgres_rejects({{"work_mem", "'lots'", ""}});
  EXPECT_NE(bad.find("invalid value for parameter \"work_mem\""), std::string::npos) << bad;
  EXPECT_EQ(postgres_rejects({{"work_mem", "'32MB'", ""}, {"jit", "off", ""}}), "");
}

TEST_F(ServerSettingsTest, ThePrimaryAndStandbySplitTheHostAndTomlSettingsWin) {
  auto c = config("[tune]\nmemory = \"8GB\"\ncpus = 8\n[primary.settings]\nwork_mem = \"48MB\"\n"
                  "[standby.settings]\nstatement_timeout = \"30s\"\n");
  auto primary = server_settings(layout_, layout_.primary(), c, 200);
  auto standby = server_settings(layout_, *layout_.standby(), c, 200);
  auto p = by_name(primary);
  auto s = by_name(standby);
  EXPECT_EQ(p["shared_buffers"], "1GB") << "8GB / 2 servers / 4";
  EXPECT_EQ(s["shared_buffers"], "1GB");
  EXPECT_EQ(p["max_worker_processes"], "4") << "8 cores / 2 servers";
  EXPECT_EQ(p["work_mem"], "'48MB'");
  EXPECT_EQ(s["work_mem"], "8MB") << "the standby keeps tune's";
  EXPECT_EQ(s["statement_timeout"], "'30s'");
  EXPECT_FALSE(p.count("statement_timeout"));
  for (const auto& setting : primary) {
    if (setting.name == "shared_buffers") {
      EXPECT_NE(setting.reason.find("2 servers share the host"), std::string::npos) << setting.reason;
    }
  }
  EXPECT_NO_THROW(check_server_settings(layout_, c, 200));
}

TEST_F(ServerSettingsTest, BadSettingsAreRefusedBeforeAnythingExists) {
  struct Case {
    std::string toml;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {"[primary.settings]\nshard_buffers = \"1GB\"\n",
            "the primary's settings are refused by PostgreSQL: FATAL:  unrecognized configuration parameter \"shard_buffers\""},
           {"[standby.settings]\nwork_mem = \"lots\"\n", "invalid value for parameter \"work_mem\""},
           {"[primary.settings]\nshared_buffers = \"9TB\"\n", "outside the valid range for parameter \"shared_buffers\""},
           {"[primary.settings]\nport = 7000\n", "[primary.settings] port is set by pgstack itself: set it with [primary] port"},
           {"[standby.settings]\nmax_connections = 500\n", "set it with [stack] max_connections"},
           {"[primary.settings]\nssl = false\n", "[primary.settings] ssl is set by pgstack itself"},
           {"[primary.settings]\narchive_mode = false\n", "archive_mode is set by pgstack itself"},
           {"[standby.settings]\nprimary_conninfo = \"host=x\"\n", "streaming replication depends on it"},
           {"[primary.settings]\npg_stat_statments.track = \"all\"\n", "belongs to no library the stack loads"},
           {"[tune]\ncpus = 2\n[primary.settings]\nmax_worker_processes = 16\n", "the standby's max_worker_processes (8) is below the primary's (16)"},
       }) {
    auto error = error_for(c.toml);
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.toml << " gave: " << error;
    EXPECT_NE(error.find((dir_ / "pgstack.toml").string()), std::string::npos) << error;
  }
  EXPECT_FALSE(fs::exists(layout_.dir)) << "checking created the stack's folder";
  EXPECT_EQ(error_for("[primary.settings]\nmax_worker_processes = 16\n[standby.settings]\nmax_worker_processes = 16\n"), "");
}

// Through up(): a setting PostgreSQL refuses stops it before the stack's folder exists.
TEST_F(ServerSettingsTest, UpRefusesABadSettingBeforeCreatingAnything) {
  auto file = dir_ / "pgstack.toml";
  std::ofstream(file) << "[tune]\nmemory = \"2GB\"\n[standby.settings]\nshard_buffers = \"1GB\"\n";
  try {
    up({.dir = layout_.dir, .port = sys::free_tcp_ports(3), .config = file});
    ADD_FAILURE() << "up accepted an unknown setting";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the standby's settings are refused by PostgreSQL: FATAL:  unrecognized "
                                         "configuration parameter \"shard_buffers\""),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(layout_.dir)) << "up created the stack's folder before refusing the setting";
}

}  // namespace
}  // namespace pgstack::stack

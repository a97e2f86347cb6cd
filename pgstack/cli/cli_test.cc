// Runs the built `pgstack` binary as a user would, against real servers: a TestCluster
// database for install/migrate, and stacks of its own in temp folders for up/down.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/pg/connection.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cli_runner.h"
#include "pgstack/testing/eventually.h"
#include "pgstack/testing/test_cluster.h"
#include "pgstack/ops/tune/documented_baseline.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pgstack::testing::TestCluster;

using Cli = pgstack::testing::CliResult;
using pgstack::testing::json_of;

Cli pgstack_cli(const std::vector<std::string>& args, const std::string& cwd = {}, std::vector<std::string> env = {}) {
  return pgstack::testing::run_cli(PGSTACK_CLI_PATH, args, cwd, std::move(env));
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/pgstack-cli-XXXXXX";
    path = mkdtemp(tmpl);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// A stack in a temp folder, stopped whatever happens to the test.
struct TempStack {
  TempDir tmp;
  fs::path dir = tmp.path / ".pgstack";
  int port = pgstack::sys::free_tcp_ports(3);  // the primary's; the standby's and PgBouncer's follow it
  ~TempStack() {
    pgstack_cli({"down", "--dir", dir.string()});
    if (auto pid = std::atoi(pgstack::read_text_file((dir / "run/pgbouncer.pid").string()).c_str()); pid > 0)
      ::kill(pid, SIGTERM);
    // Belt and braces: if our own down failed, stop the server anyway.
    for (const char* server : {"data/standby", "data/primary"})
      if (fs::exists(dir / server / "postmaster.pid"))
        pgstack::sys::run({pgstack::sys::pg_binary("pg_ctl"), "stop", "-m", "immediate", "-D", (dir / server).string()},
                          {.as_user = pgstack::sys::server_user(), .timeout = 60s});
  }
  Cli up(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"up", "--dir", dir.string(), "--port", std::to_string(port)};
    args.insert(args.end(), extra.begin(), extra.end());
    return pgstack_cli(args);
  }
};

TEST(Cli, HelpForEveryCommand) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--help"}, {"version", "--help"}, {"install", "--help"}, {"migrate", "--help"},
           {"migrate", "status", "--help"}, {"migrate", "up", "--help"}, {"up", "--help"}, {"down", "--help"},
           {"tune", "--help"}, {"env", "--help"}}) {
    auto r = pgstack_cli(args);
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.output;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << r.output;
  }
}

TEST(Cli, BadUsageExitsTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {}, {"frobnicate"}, {"version", "--bogus"}, {"migrate"}, {"migrate", "sideways"}, {"up", "--port", "abc"},
           {"up", "--port", "70000"}, {"tune", "--cores", "0"}, {"tune", "--connections", "-5"},
           {"tune", "--storage", "floppy"}, {"tune", "--workload", "games"}, {"tune", "--memory"}}) {
    auto r = pgstack_cli(args);
    EXPECT_EQ(r.code, 2) << (args.empty() ? "(none)" : args[0]) << ": " << r.output;
  }
}

TEST(Cli, VersionJsonParses) {
  auto r = pgstack_cli({"version", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  EXPECT_TRUE(doc["version"].is_string());
  EXPECT_TRUE(doc["modules"].is_array());
  EXPECT_EQ(pgstack_cli({"version"}).code, 0);
}

TEST(Cli, InstallAppliesThenIsANoOp) {
  auto db = TestCluster::shared().create_database();
  auto first = pgstack_cli({"install", "--db", db.dsn(), "--json"});
  ASSERT_EQ(first.code, 0) << first.output;
  auto a = json_of(first);
  auto second = pgstack_cli({"install", "--db", db.dsn(), "--json"});
  ASSERT_EQ(second.code, 0) << second.output;
  auto b = json_of(second);
  EXPECT_TRUE(b["applied"].empty()) << second.output;
  EXPECT_EQ(b["already_applied"].get<std::size_t>(), a["applied"].size() + a["already_applied"].get<std::size_t>());
  // DATABASE_URL is the fallback for --db.
  auto via_env = pgstack_cli({"install"}, {}, {"DATABASE_URL=" + db.dsn()});
  EXPECT_EQ(via_env.code, 0) << via_env.output;
  EXPECT_NE(via_env.output.find("nothing to do"), std::string::npos) << via_env.output;
}

TEST(Cli, MigrateUpAndStatus) {
  auto db = TestCluster::shared().create_database();
  TempDir tmp;
  auto dir = tmp.path / "migrations";
  fs::create_directories(dir);
  std::ofstream(dir / "001_notes.sql") << "create table notes (id bigint generated always as identity primary key, body text);\n";
  std::ofstream(dir / "002_notes_index.sql") << "create index notes_body on notes (body);\n";
  std::vector<std::string> common = {"--db", db.dsn(), "--dir", dir.string(), "--json"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), common.begin(), common.end());
    return pgstack_cli(args);
  };

  auto before = with({"migrate", "status"});
  ASSERT_EQ(before.code, 0) << before.output;
  auto rows = json_of(before)["migrations"];
  ASSERT_EQ(rows.size(), 2u) << before.output;
  EXPECT_EQ(rows[0]["state"], "pending");
  EXPECT_EQ(rows[1]["state"], "pending");

  auto up = with({"migrate", "up"});
  ASSERT_EQ(up.code, 0) << up.output;
  EXPECT_EQ(json_of(up)["applied"].size(), 2u);

  auto after = json_of(with({"migrate", "status"}))["migrations"];
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0]["state"], "applied");
  EXPECT_FALSE(after[0]["applied_at"].is_null());

  auto again = with({"migrate", "up"});
  EXPECT_EQ(again.code, 0);
  EXPECT_TRUE(json_of(again)["applied"].empty());

  // Editing a released file is caught and refused.
  std::ofstream(dir / "001_notes.sql") << "create table notes (id bigint);\n";
  auto changed = json_of(with({"migrate", "status"}))["migrations"];
  EXPECT_EQ(changed[0]["state"], "changed");
  EXPECT_EQ(with({"migrate", "up"}).code, 1);

  auto text = pgstack_cli({"migrate", "status", "--db", db.dsn(), "--dir", dir.string()});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.output.find("002_notes_index.sql"), std::string::npos) << text.output;

  auto missing = pgstack_cli({"migrate", "up", "--db", db.dsn(), "--dir", (tmp.path / "nope").string()});
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
}

TEST(Cli, NoDatabaseGivenExitsTwoAndSaysHow) {
  TempDir cwd;  // no .pgstack here
  auto r = pgstack_cli({"install"}, cwd.path.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--db"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("DATABASE_URL"), std::string::npos) << r.output;
}

TEST(Cli, MalformedDsnFailsClearly) {
  auto r = pgstack_cli({"install", "--db", "this is not a dsn"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("malformed database URL"), std::string::npos) << r.output;
}

TEST(Cli, UnreachableServerFailsQuickly) {
  int port = pgstack::sys::free_tcp_port();
  auto start = std::chrono::steady_clock::now();
  auto r = pgstack_cli({"install", "--db", "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/app"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot connect"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
}

std::int64_t count_rows(const std::string& dsn) {
  pgstack::pg::Connection conn(dsn);
  return conn.query_value<std::int64_t>("select count(*) from kept");
}

TEST(Cli, StackUpDownCrashAndRecover) {
  TempStack stack;
  // What an `up` killed during initdb leaves: the next up discards it and starts over.
  fs::create_directories(stack.dir / "data/primary.initdb/base");
  std::ofstream(stack.dir / "data/primary.initdb/PG_VERSION") << "15\n";
  auto first = stack.up({"--json"});
  ASSERT_EQ(first.code, 0) << first.output;
  auto doc = json_of(first);
  EXPECT_TRUE(doc["initialized"].get<bool>());
  EXPECT_TRUE(doc["changed"].get<bool>());
  const std::string dsn = doc["dsn"];
  const std::string tcp_dsn = doc["tcp_dsn"];
  {
    pgstack::pg::Connection conn(tcp_dsn);
    EXPECT_EQ(conn.query_value<std::string>("select current_database()"), "app");
    EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pg_extension where extname = 'pg_stat_statements'"), 1);
    EXPECT_EQ(conn.query_value<std::string>("show data_checksums"), "on");
    EXPECT_NE(conn.query_value<std::string>("show shared_preload_libraries").find("pg_stat_statements"), std::string::npos);
    conn.execute_script("create table kept (id int primary key); insert into kept values (1);");
  }
  EXPECT_TRUE(fs::exists(stack.dir / "stack.json"));
  EXPECT_FALSE(fs::exists(stack.dir / "data/primary.initdb"));

  // A second up changes nothing and says so.
  auto second = stack.up({"--json"});
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_FALSE(json_of(second)["changed"].get<bool>()) << second.output;
  EXPECT_TRUE(json_of(second)["was_running"].get<bool>());
  auto third = stack.up();
  EXPECT_NE(third.output.find("nothing changed"), std::string::npos) << third.output;

  // --db falls back to the local stack's stack.json.
  auto install = pgstack_cli({"install"}, stack.tmp.path.string());
  EXPECT_EQ(install.code, 0) << install.output;

  // down keeps the data; up starts it again.
  auto down = pgstack_cli({"down", "--dir", stack.dir.string()});
  ASSERT_EQ(down.code, 0) << down.output;
  EXPECT_FALSE(pgstack::stack::status(stack.dir).running);
  EXPECT_FALSE(pgstack::sys::port_in_use(stack.port));
  auto down_again = pgstack_cli({"down", "--dir", stack.dir.string()});
  EXPECT_EQ(down_again.code, 0);
  EXPECT_NE(down_again.output.find("not running"), std::string::npos) << down_again.output;

  auto restarted = stack.up({"--json"});
  ASSERT_EQ(restarted.code, 0) << restarted.output;
  EXPECT_FALSE(json_of(restarted)["initialized"].get<bool>());
  EXPECT_EQ(count_rows(dsn), 1);

  // A crash: SIGKILL the postmaster; up recovers it with the data.
  auto st = pgstack::stack::status(stack.dir);
  ASSERT_TRUE(st.running);
  pid_t pid = st.components.at(0).pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && pgstack::sys::process_alive(pid); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(pgstack::stack::status(stack.dir).components.at(0).stale_pid);
  auto recovered = stack.up({"--json"});
  ASSERT_EQ(recovered.code, 0) << recovered.output;
  EXPECT_TRUE(json_of(recovered)["recovered"].get<bool>()) << recovered.output;
  EXPECT_EQ(count_rows(dsn), 1);
}

TEST(Cli, UpReadsPgstackTomlAndRemembersIt) {
  TempStack stack;
  const int pgbouncer_port = pgstack::sys::free_tcp_port();
  {
    std::ofstream toml(stack.tmp.path / "pgstack.toml");
    toml << "[stack]\nmax_connections = 150\n\n[pgbouncer]\nport = " << pgbouncer_port
         << "\ndefault_pool_size = 25\nmax_db_connections = 40\n";
  }
  // ./pgstack.toml is read without being named.
  auto r = pgstack_cli({"up", "--dir", stack.dir.string(), "--port", std::to_string(stack.port), "--json"},
                       stack.tmp.path.string());
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  EXPECT_EQ(doc["stack"]["config"], (stack.tmp.path / "pgstack.toml").string());
  EXPECT_EQ(doc["stack"]["pgbouncer"]["port"].get<int>(), pgbouncer_port);
  EXPECT_EQ(doc["stack"]["pgbouncer"]["default_pool_size"].get<int>(), 25);
  const auto ini = pgstack::read_text_file((stack.dir / "pgbouncer/pgbouncer.ini").string());
  EXPECT_NE(ini.find("default_pool_size = 25"), std::string::npos) << ini;
  EXPECT_NE(ini.find("max_db_connections = 40"), std::string::npos) << ini;
  {
    pgstack::pg::Connection app({.dsn = doc["stack"]["pgbouncer"]["dsn"].get<std::string>(), .statement_cache = false});
    EXPECT_EQ(app.query_value<std::string>("show max_connections"), "150");
  }
  // From elsewhere, with no pgstack.toml around, up keeps using the recorded file: nothing changes.
  auto again = stack.up({"--json"});
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_FALSE(json_of(again)["changed"].get<bool>()) << again.output;

  // A changed setting reaches both running servers: a standby left below the primary's
  // max_connections would stop replaying.
  {
    std::ofstream toml(stack.tmp.path / "pgstack.toml");
    toml << "[stack]\nmax_connections = 160\n\n[pgbouncer]\nport = " << pgbouncer_port
         << "\ndefault_pool_size = 25\nmax_db_connections = 40\n";
  }
  auto raised = stack.up();
  ASSERT_EQ(raised.code, 0) << raised.output;
  {
    auto layout = pgstack::stack::ClusterLayout::load(stack.dir).value();
    pgstack::pg::Connection primary(layout.dsn());
    pgstack::pg::Connection standby(layout.dsn(layout.standby()));
    EXPECT_EQ(primary.query_value<std::string>("show max_connections"), "160");
    EXPECT_EQ(standby.query_value<std::string>("show max_connections"), "160");
    primary.execute_script("create table after_raise(id int); insert into after_raise values (1)");
    bool replayed = false;
    for (int i = 0; i < 100 && !replayed; ++i) {
      replayed = standby.query_value<bool>("select to_regclass('after_raise') is not null");
      if (!replayed) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(replayed) << "the standby stopped replaying after max_connections was raised";
  }

  // A typo in the file is an error naming the file and key, and changes nothing.
  {
    std::ofstream toml(stack.tmp.path / "pgstack.toml");
    toml << "[pgbouncer]\ndefault_pool_sise = 30\n";
  }
  auto typo = stack.up();
  EXPECT_EQ(typo.code, 1) << typo.output;
  EXPECT_NE(typo.output.find("[pgbouncer] default_pool_sise is not a setting"), std::string::npos) << typo.output;
  EXPECT_NE(pgstack::read_text_file((stack.dir / "pgbouncer/pgbouncer.ini").string()).find("default_pool_size = 25"),
            std::string::npos);
  auto missing = stack.up({"--config", (stack.tmp.path / "nope.toml").string()});
  EXPECT_EQ(missing.code, 2) << missing.output;
}

TEST(Cli, UpReportsAMissingBinaryBeforeStartingAnything) {
  TempStack stack;
  auto r = pgstack_cli({"up", "--dir", stack.dir.string(), "--port", std::to_string(stack.port)}, {},
                       {"PGSTACK_PG_BINDIR=/nonexistent/bin"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("'initdb' not found in /nonexistent/bin: install postgresql-15"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(stack.dir)) << "up created the stack's folder before its preflight passed";
}

TEST(Cli, UpReportsAReadOnlyFolderBeforeStartingAnything) {
  TempDir tmp;
  const auto parent = tmp.path / "read-only";
  fs::create_directory(parent);
  fs::permissions(parent, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  // Root writes anywhere, so as root the folder is read-only for the user running pgstack: nobody.
  std::vector<std::string> argv = {PGSTACK_CLI_PATH, "up", "--dir", (parent / "stack").string(), "--port",
                                   std::to_string(pgstack::sys::free_tcp_ports(3))};
  auto r = pgstack::sys::run(argv, {.as_user = pgstack::sys::is_root() ? "nobody" : "", .timeout = 60s});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot create " + (parent / "stack").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pass --dir with a writable folder"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(parent));
}

TEST(Cli, UpRefusesAPortInUseBeforeStartingAnything) {
  TempStack stack;
  stack.port = TestCluster::shared().port();  // a real server holds it
  auto r = stack.up();
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("port " + std::to_string(stack.port) + " is in use"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--port"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(stack.dir / "data/primary/PG_VERSION"));
}

// ---- tune and env ------------------------------------------------------------------

std::map<std::string, std::string> settings_of(const nlohmann::json& doc) {
  std::map<std::string, std::string> out;
  for (const auto& s : doc["settings"]) {
    EXPECT_FALSE(s["reason"].get<std::string>().empty()) << s.dump();
    out[s["name"].get<std::string>()] = s["value"].get<std::string>();
  }
  return out;
}

TEST(CliTune, Baseline32GbEightCoresSsdWebExactly) {
  auto r = pgstack_cli({"tune", "--memory", "32GB", "--cores", "8", "--connections", "200", "--storage", "ssd",
                        "--workload", "web", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  auto got = settings_of(doc);
  for (const auto& [name, value] : pgstack::tune::documented_baseline_32gb()) {
    ASSERT_TRUE(got.count(name)) << name << " missing: " << r.output;
    EXPECT_EQ(got[name], value) << name;
  }
  EXPECT_EQ(doc["input"]["memory"].get<std::uint64_t>(), 32ull << 30);
  EXPECT_EQ(doc["input"]["memory_source"], "given");
  EXPECT_EQ(doc["input"]["cores"], 8);
  EXPECT_EQ(doc["input"]["storage"], "ssd");
  EXPECT_EQ(doc["input"]["workload"], "web");
  // The defaults are the same machine's connections, storage and workload.
  EXPECT_EQ(settings_of(json_of(pgstack_cli({"tune", "--memory", "32GB", "--cores", "8", "--json"}))), got);
}

// Every non-comment line is `name = value  # reason`; string values are single-quoted.
TEST(CliTune, HumanOutputIsAPostgresqlConfFragment) {
  auto r = pgstack_cli({"tune", "--memory", "32GB", "--cores", "8"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("32GB (given)"), std::string::npos) << r.output;
  std::istringstream in(r.output);
  std::regex line_re(R"(^([a-z_][a-z0-9_.]*) = ('(?:[^']|'')*'|[A-Za-z0-9.\-]+) +# \S.*$)");
  std::map<std::string, std::string> seen;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.starts_with("#")) continue;
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, line_re)) << "not a postgresql.conf line: " << line;
    seen[m[1]] = m[2];
  }
  EXPECT_EQ(seen["shared_buffers"], "8GB");
  EXPECT_EQ(seen["log_line_prefix"], "'%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '");
  EXPECT_EQ(seen.size(), settings_of(json_of(pgstack_cli({"tune", "--memory", "32GB", "--cores", "8", "--json"}))).size());
}

TEST(CliTune, DetectsTheMachineWithoutFlags) {
  auto r = pgstack_cli({"tune", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto doc = json_of(r);
  EXPECT_GT(doc["input"]["memory"].get<std::uint64_t>(), 0u);
  EXPECT_GE(doc["input"]["cores"].get<int>(), 1);
  const std::string source = doc["input"]["memory_source"];
  EXPECT_TRUE(source == "host" || source == "cgroup") << source;
  auto text = pgstack_cli({"tune"});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.output.find("detected from"), std::string::npos) << text.output;
}

TEST(CliTune, BadMemoryExitsTwoAndSaysTheFormat) {
  for (std::string bad : {"lots", "32XB", "-1GB", "", "GB", "0"}) {
    auto r = pgstack_cli({"tune", "--memory", bad});
    EXPECT_EQ(r.code, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("--memory"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("GB"), std::string::npos) << r.output;
  }
  for (std::string good : {"512MB", "1TB", "1073741824", "1.5GB"}) {
    auto r = pgstack_cli({"tune", "--memory", good, "--cores", "2", "--json"});
    EXPECT_EQ(r.code, 0) << good << ": " << r.output;
  }
  EXPECT_EQ(json_of(pgstack_cli({"tune", "--memory", "1073741824", "--cores", "2", "--json"}))["input"]["memory"], 1ull << 30);
}

// Inputs past what PostgreSQL can hold are refused with the limit named, never clamped.
TEST(CliTune, InputsBeyondPostgresLimitsExitTwoNamingTheLimit) {
  struct Case {
    std::vector<std::string> args;
    std::string limit;
  };
  for (const auto& c : {Case{{"--memory", "100000TB", "--cores", "2"}, "16TB"},
                        Case{{"--memory", "17TB", "--cores", "2"}, "16TB"},
                        Case{{"--memory", "4GB", "--cores", "1025"}, "1024"},
                        Case{{"--memory", "4GB", "--cores", "2", "--connections", "300000"}, "261100"}}) {
    std::vector<std::string> argv = {"tune"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = pgstack_cli(argv);
    EXPECT_EQ(r.code, 2) << c.args[1] << ": " << r.output;
    EXPECT_NE(r.output.find(c.limit), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("shared_buffers"), std::string::npos) << "printed settings: " << r.output;
  }
  auto at_limit = pgstack_cli({"tune", "--memory", "16TB", "--cores", "1024", "--connections", "261100", "--json"});
  ASSERT_EQ(at_limit.code, 0) << at_limit.output;
  EXPECT_EQ(settings_of(json_of(at_limit))["shared_buffers"], "4TB");
}

std::uint64_t conf_bytes(const std::string& value) {
  std::size_t digits = 0;
  while (digits < value.size() && std::isdigit(static_cast<unsigned char>(value[digits]))) ++digits;
  std::uint64_t n = std::stoull(value.substr(0, digits));
  std::string unit = value.substr(digits);
  if (unit == "kB") return n << 10;
  if (unit == "MB") return n << 20;
  if (unit == "GB") return n << 30;
  ADD_FAILURE() << "unexpected unit in " << value;
  return 0;
}

TEST(CliTune, TinyMachineNeverBelowPostgresMinimums) {
  for (std::string workload : {"web", "oltp", "analytics"}) {
    for (std::string storage : {"ssd", "hdd"}) {
      auto r = pgstack_cli({"tune", "--memory", "256MB", "--cores", "1", "--connections", "10000", "--workload", workload,
                            "--storage", storage, "--json"});
      ASSERT_EQ(r.code, 0) << r.output;
      auto got = settings_of(json_of(r));
      // guc_tables.c minimums.
      EXPECT_GE(conf_bytes(got["shared_buffers"]), 128u << 10);
      EXPECT_GE(conf_bytes(got["work_mem"]), 64u << 10);
      EXPECT_GE(conf_bytes(got["maintenance_work_mem"]), 1u << 20);
      EXPECT_GE(conf_bytes(got["effective_cache_size"]), 8u << 10);
      EXPECT_GE(conf_bytes(got["wal_buffers"]), 32u << 10);
      EXPECT_GE(conf_bytes(got["min_wal_size"]), 2 * (16u << 20));
      EXPECT_GE(conf_bytes(got["max_wal_size"]), conf_bytes(got["min_wal_size"]));
      EXPECT_GE(std::stoi(got["autovacuum_max_workers"]), 1);
      EXPECT_GE(std::stoi(got["max_connections"]), 1);
      EXPECT_GE(std::stod(got["random_page_cost"]), 0.0);
      EXPECT_EQ(got["random_page_cost"], storage == "ssd" ? "1.1" : "4");
      EXPECT_EQ(got["effective_io_concurrency"], storage == "ssd" ? "200" : "2");
    }
  }
}

// An address other machines reach is refused without TLS or credentials (exit 2, nothing
// served); --insecure-listen serves it with a warning. The server need not be up.
TEST(CliMetrics, AnOpenAddressNeedsProtectionOrTheInsecureFlag) {
  const std::string db = "postgresql://nobody@127.0.0.1:1/none";
  auto open = pgstack_cli({"metrics", "--db", db, "--listen", "0.0.0.0:0"});
  EXPECT_EQ(open.code, 2) << open.output;
  EXPECT_NE(open.output.find("--basic-auth-file"), std::string::npos) << open.output;
  TempDir tmp;
  const auto token = tmp.path / "token";
  std::ofstream(token) << "0123456789abcdef0123456789abcdef\n";
  fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read, fs::perm_options::replace);
  auto readable = pgstack_cli({"metrics", "--db", db, "--listen", "0.0.0.0:0", "--bearer-token-file", token.string()});
  EXPECT_EQ(readable.code, 2) << readable.output;
  EXPECT_NE(readable.output.find("chmod 600 " + token.string()), std::string::npos) << readable.output;
  // pgstack.toml's [metrics] is read like the flags: the same refusal for its listen.
  std::ofstream(tmp.path / "pgstack.toml") << "[metrics]\nlisten = \"0.0.0.0:0\"\n";
  auto from_file = pgstack_cli({"metrics", "--db", db, "--config", (tmp.path / "pgstack.toml").string()});
  EXPECT_EQ(from_file.code, 2) << from_file.output;
  EXPECT_NE(from_file.output.find("listening on 0.0.0.0, other machines could read"), std::string::npos)
      << from_file.output;

  const int port = pgstack::sys::free_tcp_port();
  const auto log = (tmp.path / "metrics.log").string();
  pid_t pid = pgstack::sys::spawn({PGSTACK_CLI_PATH, "metrics", "--db", db, "--listen", fmt::format("0.0.0.0:{}", port),
                                   "--insecure-listen"},
                                  {}, log);
  EXPECT_TRUE(pgstack::testing::eventually(
      [&] { return pgstack::read_text_file(log).find("serving http://0.0.0.0") != std::string::npos; }, 10s))
      << pgstack::read_text_file(log);
  ::kill(pid, SIGTERM);
  EXPECT_NE(pgstack::read_text_file(log).find("warning: --insecure-listen: anyone who can reach 0.0.0.0"),
            std::string::npos)
      << pgstack::read_text_file(log);
  EXPECT_TRUE(pgstack::testing::eventually([&] { return !pgstack::sys::process_alive(pid); }, 10s));
}

TEST(CliEnv, NoStackExitsOneAndSaysToRunUp) {
  TempDir tmp;
  auto r = pgstack_cli({"env"}, tmp.path.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("pgstack up"), std::string::npos) << r.output;
  auto elsewhere = pgstack_cli({"env", "--dir", (tmp.path / "nope").string()});
  EXPECT_EQ(elsewhere.code, 1) << elsewhere.output;
  EXPECT_NE(elsewhere.output.find("pgstack up --dir"), std::string::npos) << elsewhere.output;
}

TEST(CliEnv, PrintsShellExportsThatAShellReadsBack) {
  TempDir tmp;
  auto dir = tmp.path / "it's a stack" / ".pgstack";  // a quote in the path: quoting must hold
  fs::create_directories(dir);
  auto layout = pgstack::stack::ClusterLayout::local(dir, 55999);
  layout.save();
  auto r = pgstack_cli({"env", "--dir", dir.string()});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(r.output.starts_with("export DATABASE_URL=")) << r.output;
  EXPECT_NE(r.output.find("export PGSTACK_PRIMARY_URL="), std::string::npos) << r.output;
  // A shell evaluates the output and gets the layout's DSNs back unchanged.
  auto script = tmp.path / "env.sh";
  std::ofstream(script) << r.output << "printf '%s\\n' \"$DATABASE_URL\" \"$PGSTACK_PRIMARY_URL\" \"$PGSTACK_PRIMARY_SOCKET_URL\"\n";
  auto sh = pgstack::sys::run({"/bin/sh", script.string()}, {.timeout = 30s});
  ASSERT_EQ(sh.exit_code, 0) << sh.output;
  // DATABASE_URL is the application's role, never the superuser.
  EXPECT_EQ(sh.output, layout.role_dsn("app") + "\n" + layout.tcp_dsn() + "\n" + layout.dsn() + "\n");

  auto json = json_of(pgstack_cli({"env", "--dir", dir.string(), "--json"}));
  EXPECT_EQ(json["DATABASE_URL"], layout.role_dsn("app"));
  EXPECT_NE(json["DATABASE_URL"].get<std::string>().find("postgresql://app@"), std::string::npos) << json.dump();
  EXPECT_EQ(json["PGSTACK_MIGRATIONS_URL"], layout.role_dsn("migrations"));
  EXPECT_EQ(json["PGSTACK_APP_READER_URL"], layout.role_dsn("app_reader", layout.standby()));
  EXPECT_EQ(json["PGSTACK_PRIMARY_SOCKET_URL"], layout.dsn());
  EXPECT_EQ(json["PGSTACK_APP_URL"], layout.pooled_dsn("app"));
  EXPECT_EQ(json["PGSTACK_APP_RO_URL"], layout.pooled_dsn("app_reader", true));
  EXPECT_NE(json["PGSTACK_APP_RO_URL"].get<std::string>().find(":56001/app_ro?"), std::string::npos)
      << json.dump();  // PgBouncer: the primary's port + 2
}

}  // namespace

TEST(Cli, StatusShowsEveryComponentAndReplication) {
  TempStack stack;
  auto none = pgstack_cli({"status", "--dir", stack.dir.string()});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.output.find("no stack in"), std::string::npos) << none.output;

  ASSERT_EQ(stack.up().code, 0);
  // PgBouncer makes a pool when its first client comes.
  auto layout = pgstack::stack::ClusterLayout::load(stack.dir).value();
  pgstack::pg::Connection reader({.dsn = layout.pooled_dsn("app_reader", true), .statement_cache = false});
  EXPECT_TRUE(reader.query_value<bool>("select pg_is_in_recovery()"));
  nlohmann::json doc;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    auto r = pgstack_cli({"status", "--dir", stack.dir.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.output;
    doc = json_of(r);
    if (!doc["replication"].empty() && doc["replication"][0]["state"] == "streaming") break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(doc["components"].size(), 3u) << doc.dump();
  EXPECT_EQ(doc["components"][0]["role"], "primary");
  EXPECT_EQ(doc["components"][1]["role"], "standby");
  EXPECT_TRUE(doc["components"][1]["running"].get<bool>());
  EXPECT_EQ(doc["components"][1]["port"].get<int>(), stack.port + 1);
  EXPECT_EQ(doc["components"][2]["name"], "pgbouncer");
  EXPECT_EQ(doc["components"][2]["role"], "pooler");
  EXPECT_TRUE(doc["components"][2]["running"].get<bool>());
  EXPECT_GT(doc["components"][2]["pid"].get<int>(), 0);
  EXPECT_EQ(doc["components"][2]["port"].get<int>(), stack.port + 2);
  bool app_ro_pool = false;
  for (const auto& pool : doc["pgbouncer_pools"])
    app_ro_pool = app_ro_pool || (pool["database"] == "app_ro" && pool["pool_mode"] == "transaction");
  EXPECT_TRUE(app_ro_pool) << doc["pgbouncer_pools"].dump();
  ASSERT_EQ(doc["replication"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["replication"][0]["state"], "streaming");
  EXPECT_EQ(doc["slots"][0]["name"], "pgstack_standby");
  EXPECT_TRUE(doc["slots"][0]["active"].get<bool>());

  auto text = pgstack_cli({"status", "--dir", stack.dir.string()});
  EXPECT_EQ(text.code, 0) << text.output;
  EXPECT_NE(text.output.find("replication: pgstack-standby streaming"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("pool app_ro/app_reader (transaction)"), std::string::npos) << text.output;

  // A component down: status says which, and exits 1.
  const pid_t standby_pid = doc["components"][1]["pid"].get<int>();
  ASSERT_EQ(::kill(standby_pid, SIGKILL), 0);
  for (int i = 0; i < 100 && pgstack::sys::process_alive(standby_pid); ++i) std::this_thread::sleep_for(50ms);
  auto down = pgstack_cli({"status", "--dir", stack.dir.string()});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.output.find("down: standby; run `pgstack up`"), std::string::npos) << down.output;
}

TEST(Cli, DestroyNeedsYesThenRemovesEverything) {
  TempStack stack;
  ASSERT_EQ(stack.up().code, 0);
  auto st = pgstack::stack::status(stack.dir);
  ASSERT_TRUE(st.running);

  auto unconfirmed = pgstack_cli({"destroy", "--dir", stack.dir.string()});
  EXPECT_EQ(unconfirmed.code, 2);
  EXPECT_NE(unconfirmed.output.find("pass --yes to confirm"), std::string::npos) << unconfirmed.output;
  EXPECT_TRUE(pgstack::stack::status(stack.dir).running) << "nothing may change without --yes";

  // A folder that is not a stack is refused, and kept.
  fs::create_directories(stack.tmp.path / "not-a-stack");
  std::ofstream(stack.tmp.path / "not-a-stack" / "precious.txt") << "keep me";
  auto refused = pgstack_cli({"destroy", "--yes", "--dir", (stack.tmp.path / "not-a-stack").string()});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.output.find("does not hold a pgstack stack"), std::string::npos) << refused.output;
  EXPECT_TRUE(fs::exists(stack.tmp.path / "not-a-stack" / "precious.txt"));

  auto destroyed = pgstack_cli({"destroy", "--yes", "--dir", stack.dir.string()});
  EXPECT_EQ(destroyed.code, 0) << destroyed.output;
  EXPECT_FALSE(fs::exists(stack.dir));
  for (const auto& c : st.components) EXPECT_FALSE(pgstack::sys::process_alive(c.pid)) << c.name;
  EXPECT_FALSE(pgstack::sys::port_in_use(stack.port));

  auto again = pgstack_cli({"destroy", "--yes", "--dir", stack.dir.string()});
  EXPECT_EQ(again.code, 0);
  EXPECT_NE(again.output.find("nothing to remove"), std::string::npos) << again.output;
}

#include "pgstack/testing/test_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgstack/pg/connection.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cluster_folder.h"

namespace {

using namespace std::chrono_literals;
using pgstack::pg::Connection;
using pgstack::testing::TestCluster;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace fs = std::filesystem;
namespace sys = pgstack::sys;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::int64_t database_count(TestCluster& cluster, const std::string& name) {
  Connection conn(cluster.dsn());
  return conn.query_value<std::int64_t>("select count(*) from pg_database where datname = $1", name);
}

TEST(TestCluster, AnswersOverTheSocketAndTcp) {
  auto& cluster = TestCluster::shared();
  Connection over_socket(cluster.dsn());
  EXPECT_EQ(over_socket.query_value<std::int32_t>("select 1"), 1);
  Connection over_tcp(cluster.tcp_dsn());
  EXPECT_EQ(over_tcp.query_value<std::int32_t>("select 1"), 1);
  EXPECT_EQ(over_tcp.query_value<std::string>("select current_user"), "postgres");

  EXPECT_THAT(cluster.dsn(), HasSubstr("host=" + cluster.socket_dir()));
  EXPECT_THAT(cluster.tcp_dsn(), HasSubstr("host=127.0.0.1 port=" + std::to_string(cluster.port())));
  EXPECT_TRUE(sys::port_in_use(cluster.port()));
  EXPECT_TRUE(fs::exists(fs::path(cluster.socket_dir()) / (".s.PGSQL." + std::to_string(cluster.port()))));
  EXPECT_THAT(cluster.root_dir(), StartsWith(pgstack::testing::detail::cluster_folder_base() + "/pgstack-test-"));
  EXPECT_EQ(cluster.superuser(), "postgres");
}

TEST(TestCluster, IsTunedForTests) {
  Connection conn(TestCluster::shared().dsn());
  EXPECT_EQ(conn.query_value<std::string>("show fsync"), "off");
  EXPECT_EQ(conn.query_value<std::string>("show synchronous_commit"), "off");
  EXPECT_EQ(conn.query_value<std::string>("show full_page_writes"), "off");
  EXPECT_EQ(conn.query_value<std::string>("show max_connections"), "200");
  EXPECT_EQ(conn.query_value<std::string>("show shared_preload_libraries"), "pg_stat_statements");
  EXPECT_EQ(conn.query_value<std::string>("show server_encoding"), "UTF8");
}

TEST(TestCluster, ServerRunsAsTheServerUser) {
  auto& cluster = TestCluster::shared();
  pid_t pid = cluster.postmaster_pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(sys::process_alive(pid));
  struct stat st {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(pid)).c_str(), &st), 0);
  auto whoami = sys::run({"id", "-u", sys::server_user().empty() ? std::to_string(::geteuid()) : sys::server_user()});
  EXPECT_EQ(std::to_string(st.st_uid) + "\n", whoami.output);
}

TEST(TestCluster, CreateDatabaseGivesIndependentDatabases) {
  auto& cluster = TestCluster::shared();
  auto a = cluster.create_database();
  auto b = cluster.create_database();
  EXPECT_NE(a.name(), b.name());
  EXPECT_THAT(a.name(), StartsWith("t_" + std::to_string(::getpid()) + "_"));

  Connection in_a(a.dsn());
  in_a.execute_script("create table notes(body text); insert into notes values ('only in a')");
  Connection in_b(b.tcp_dsn());
  EXPECT_EQ(in_b.query_value<std::int64_t>("select count(*) from pg_tables where tablename = 'notes'"), 0);
  EXPECT_EQ(in_a.query_value<std::string>("select current_database()"), a.name());
  EXPECT_EQ(in_b.query_value<std::string>("select current_database()"), b.name());
}

TEST(TestCluster, DatabaseIsDroppedWithItsTestDatabaseEvenWhileConnected) {
  auto& cluster = TestCluster::shared();
  std::string name;
  std::optional<Connection> still_open;
  {
    auto db = cluster.create_database();
    name = db.name();
    still_open.emplace(db.dsn());
    EXPECT_EQ(database_count(cluster, name), 1);
  }
  EXPECT_EQ(database_count(cluster, name), 0);
}

TEST(TestCluster, MovedFromTestDatabaseDropsNothing) {
  auto& cluster = TestCluster::shared();
  auto first = cluster.create_database();
  std::string name = first.name();
  {
    auto moved = std::move(first);
    EXPECT_EQ(moved.name(), name);
  }
  EXPECT_EQ(database_count(cluster, name), 0);
}

TEST(TestCluster, PrepareTemplateContentAppearsInNewDatabases) {
  TestCluster cluster;
  int fills = 0;
  auto fill = [&](Connection& conn) {
    ++fills;
    conn.execute_script("create table greetings(text text); insert into greetings values ('hello')");
  };
  cluster.prepare_template(fill);
  cluster.prepare_template(fill);  // once per cluster: later calls do nothing
  EXPECT_EQ(fills, 1);
  for (int i = 0; i < 2; ++i) {
    auto db = cluster.create_database();
    Connection conn(db.dsn());
    EXPECT_EQ(conn.query_value<std::string>("select text from greetings"), "hello");
    conn.execute_script("insert into greetings values ('only here')");  // not seen by the next one
  }
}

TEST(TestCluster, PrepareTemplateAfterCreateDatabaseThrows) {
  TestCluster cluster;
  auto db = cluster.create_database();
  EXPECT_THROW(cluster.prepare_template([](Connection&) {}), pgstack::Error);
}

TEST(TestCluster, FailedPrepareLeavesAnEmptyTemplate) {
  TestCluster cluster;
  EXPECT_THROW(cluster.prepare_template([](Connection& conn) {
    conn.execute_script("create table half_done(id int)");
    conn.execute_script("this is not sql");
  }),
               pgstack::Error);
  auto db = cluster.create_database();
  Connection conn(db.dsn());
  EXPECT_EQ(conn.query_value<std::int64_t>("select count(*) from pg_tables where tablename = 'half_done'"), 0);
}

TEST(TestCluster, RestartKeepsDataAndPort) {
  TestCluster cluster;
  auto db = cluster.create_database();
  Connection(db.dsn()).execute_script("create table kept(id int); insert into kept values (1), (2)");
  int port = cluster.port();
  pid_t before = cluster.postmaster_pid();

  cluster.restart();
  EXPECT_EQ(cluster.port(), port);
  EXPECT_NE(cluster.postmaster_pid(), before);
  EXPECT_EQ(Connection(db.dsn()).query_value<std::int64_t>("select count(*) from kept"), 2);

  cluster.stop();
  EXPECT_EQ(cluster.postmaster_pid(), 0);
  EXPECT_FALSE(sys::process_alive(before));
  cluster.start();
  EXPECT_EQ(Connection(db.tcp_dsn()).query_value<std::int64_t>("select count(*) from kept"), 2);
}

// Holds 127.0.0.1:port, listening or merely bound (which a connect check cannot see,
// but the server's bind fails on all the same).
struct PortSquatter {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  PortSquatter(int port, bool listen) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (listen) {
      EXPECT_EQ(::listen(fd, 4), 0);
    }
  }
  ~PortSquatter() { ::close(fd); }
};

TEST(TestCluster, StartMovesToAnotherPortWhenItsPortWasTaken) {
  TestCluster cluster;
  auto db = cluster.create_database();
  for (bool listening : {true, false}) {
    cluster.stop();
    int old_port = cluster.port();
    PortSquatter squatter(old_port, listening);
    cluster.start();
    EXPECT_NE(cluster.port(), old_port) << (listening ? "listening" : "bound only");
    EXPECT_EQ(Connection(db.tcp_dsn()).query_value<std::int32_t>("select 1"), 1);
  }
  // The bound-only round got past the connect check and was retried after the failed bind.
  EXPECT_THAT(read_file(cluster.log_file()), HasSubstr("Address already in use"));
}

TEST(TestCluster, KillServerThenStartRecoversCommittedData) {
  TestCluster cluster;
  auto db = cluster.create_database();
  {
    Connection conn(db.dsn());
    // The test cluster runs with synchronous_commit off: a commit may still sit in
    // WAL buffers when the server is killed. This session waits for its WAL write.
    conn.execute_script("set synchronous_commit = on");
    conn.execute_script("create table ledger(id int)");
    conn.query("insert into ledger select generate_series(1, 1000)");
  }
  pid_t before = cluster.postmaster_pid();
  cluster.kill_server();
  EXPECT_FALSE(sys::process_alive(before));
  EXPECT_EQ(cluster.postmaster_pid(), 0);
  EXPECT_THROW(cluster.kill_server(), pgstack::Error);
  EXPECT_THROW(Connection(pgstack::pg::ConnectOptions{.dsn = db.dsn(), .connect_timeout = 1s}), pgstack::Error);

  cluster.start();
  EXPECT_NE(cluster.postmaster_pid(), before);
  EXPECT_EQ(Connection(db.dsn()).query_value<std::int64_t>("select count(*) from ledger"), 1000);
  EXPECT_THAT(read_file(cluster.log_file()), HasSubstr("database system was interrupted"));
}

TEST(TestCluster, StopImmediatelySkipsTheShutdownCheckpointAndStartRecovers) {
  TestCluster cluster;
  auto db = cluster.create_database();
  {
    Connection conn(db.dsn());
    conn.execute_script("set synchronous_commit = on");  // as above: the commit's WAL is written
    conn.execute_script("create table ledger(id int)");
    conn.query("insert into ledger select generate_series(1, 10)");
  }
  cluster.stop_immediately();
  EXPECT_EQ(cluster.postmaster_pid(), 0);
  cluster.start();
  EXPECT_EQ(Connection(db.dsn()).query_value<std::int64_t>("select count(*) from ledger"), 10);
  // A fast stop writes a shutdown checkpoint; an immediate one leaves recovery to do.
  EXPECT_THAT(read_file(cluster.log_file()), HasSubstr("database system was interrupted"));
}

TEST(TestCluster, DestructorStopsTheServerAndRemovesTheFolder) {
  std::string root;
  pid_t pid = 0;
  {
    TestCluster cluster;
    root = cluster.root_dir();
    pid = cluster.postmaster_pid();
    EXPECT_TRUE(fs::exists(root));
  }
  EXPECT_FALSE(sys::process_alive(pid));
  EXPECT_FALSE(fs::exists(root));
}

TEST(TestCluster, SettingsComeLast) {
  TestCluster cluster({.settings = {"max_connections = 50", "application_name = 'from_settings'"}});
  Connection conn(cluster.dsn());
  EXPECT_EQ(conn.query_value<std::string>("show max_connections"), "50");
}

// What the holder printed: its cluster's folder and postmaster pid.
struct HolderReport {
  std::string root;
  pid_t postmaster = 0;
};

HolderReport parse_holder(const std::string& output) {
  HolderReport report;
  std::istringstream in(output);
  std::string key;
  while (in >> key) {
    if (key == "root") in >> report.root;
    if (key == "postmaster") in >> report.postmaster;
  }
  return report;
}

TEST(TestCluster, NothingOutlivesASigkilledTestProcess) {
  char log_pattern[] = "/tmp/pgstack-holder-log-XXXXXX";
  int fd = ::mkstemp(log_pattern);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::string log = log_pattern;
  pid_t holder = sys::spawn({PGSTACK_TEST_CLUSTER_HOLDER}, {}, log);

  HolderReport report;
  ASSERT_TRUE(eventually(
      [&] {
        report = parse_holder(read_file(log));
        return report.postmaster > 0 || !sys::process_alive(holder);
      },
      30s));
  ASSERT_GT(report.postmaster, 0) << read_file(log);
  ASSERT_TRUE(sys::process_alive(report.postmaster));
  ASSERT_TRUE(fs::exists(report.root));

  // A second server beside the cluster's, as a test that makes a standby leaves it.
  const std::string extra = report.root + "/extra";
  const sys::RunOptions as_server{.as_user = sys::server_user(), .cwd = "/", .timeout = 60s};
  auto r = sys::run({sys::pg_binary("initdb"), "-D", extra, "-A", "trust", "--no-sync"}, as_server);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = sys::run({sys::pg_binary("pg_ctl"), "start", "-w", "-D", extra, "-l", extra + "/log", "-o",
                "-p " + std::to_string(sys::free_tcp_port()) + " -k " + extra + " -c listen_addresses=''"},
               as_server);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pid_t extra_postmaster = 0;
  std::istringstream(read_file(extra + "/postmaster.pid")) >> extra_postmaster;
  ASSERT_TRUE(sys::process_alive(extra_postmaster));

  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return !sys::process_alive(report.postmaster); }, 15s)) << "postmaster survived";
  EXPECT_TRUE(eventually([&] { return !sys::process_alive(extra_postmaster); }, 15s)) << "the second server survived";
  EXPECT_TRUE(eventually([&] { return !fs::exists(report.root); }, 15s)) << report.root << " survived";
  fs::remove(log);
}

TEST(TestCluster, SharedClusterIsRemovedAtNormalExit) {
  auto r = sys::run({PGSTACK_TEST_CLUSTER_HOLDER, "--exit"}, {.timeout = 60s});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = parse_holder(r.output);
  ASSERT_GT(report.postmaster, 0) << r.output;
  // By the exit handler itself, before the watchdog could have stepped in.
  EXPECT_FALSE(sys::process_alive(report.postmaster));
  EXPECT_FALSE(fs::exists(report.root));
}

// A folder as a dead test process leaves it: owner file naming a dead process, and a
// server still running in it.
TEST(StaleFolderSweep, StopsTheServerAndRemovesFoldersOfDeadOwners) {
  namespace detail = pgstack::testing::detail;
  // A base of its own: a TestCluster starting in a parallel test process sweeps the
  // shared one and could take our stale folder first.
  char base_pattern[] = "/tmp/pgstack-sweep-test-XXXXXX";
  ASSERT_NE(::mkdtemp(base_pattern), nullptr);
  std::string base = base_pattern;
  ::chmod(base.c_str(), 0755);
  std::string stale = detail::make_cluster_folder(base);
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  std::ofstream(fs::path(stale) / detail::kOwnerFile) << dead << " 1\n";

  fs::create_directory(fs::path(stale) / "sock");
  sys::give_to_server_user(stale);
  sys::RunOptions as_server{.as_user = sys::server_user(), .cwd = stale, .timeout = 60s};
  auto initdb = sys::run({sys::pg_binary("initdb"), "-D", stale + "/data", "-A", "trust", "--no-sync"}, as_server);
  ASSERT_EQ(initdb.exit_code, 0) << initdb.output;
  std::string options = "-p " + std::to_string(sys::free_tcp_port()) + " -k " + stale + "/sock -c listen_addresses=";
  auto start = sys::run(
      {sys::pg_binary("pg_ctl"), "start", "-w", "-D", stale + "/data", "-l", stale + "/log", "-o", options, "-s"},
      as_server);
  ASSERT_EQ(start.exit_code, 0) << start.output;
  pid_t postmaster = detail::read_postmaster_pid(stale + "/data");
  ASSERT_TRUE(detail::is_live_postgres(postmaster));

  // Folders the sweep must leave: one whose owner (we) lives, one still being created.
  std::string ours = detail::make_cluster_folder(base);
  std::string fresh = base + "/pgstack-test-fresh" + std::to_string(::getpid());
  fs::create_directory(fresh);

  EXPECT_GE(detail::sweep_stale_cluster_folders(base), 1);
  EXPECT_FALSE(sys::process_alive(postmaster));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(ours));
  EXPECT_TRUE(fs::exists(fresh));
  fs::remove_all(base);
}

}  // namespace

// TestCluster: a real PostgreSQL 15 for tests and benchmarks, in a temp folder with a
// private port and socket, run as `postgres` when the test runs as root. Each test gets
// a fresh database cloned from a template. Everything is removed when the cluster is
// destroyed, and also when the test process dies any other way (a watchdog process
// stops the server when our end of a pipe closes), so no server outlives its run.
//
//   auto& cluster = pgstack::testing::TestCluster::shared();
//   auto db = cluster.create_database();              // dropped at end of scope
//   pgstack::pg::Connection conn(db.dsn());
//
// Settings favour speed over durability (fsync, synchronous_commit and full_page_writes
// off): a test cluster is thrown away. See docs/testing.md.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgstack::pg {
class Connection;
}

namespace pgstack::testing {

struct TestClusterOptions {
  // Extra postgresql.conf lines, e.g. "max_connections = 200"; they come last, so they
  // override the test defaults.
  std::vector<std::string> settings;
};

class TestCluster;

// A database of its own for one test; dropped (connections and all) when destroyed.
// Must not outlive its cluster.
class TestDatabase {
 public:
  TestDatabase(TestCluster& cluster, std::string name);
  TestDatabase(TestDatabase&&) noexcept;
  TestDatabase(const TestDatabase&) = delete;
  ~TestDatabase();  // DROP DATABASE ... WITH (FORCE); never throws (a stopped server is fine)

  const std::string& name() const noexcept { return name_; }
  std::string dsn() const;      // over the Unix socket
  std::string tcp_dsn() const;  // over TCP on 127.0.0.1

 private:
  TestCluster* cluster_;
  std::string name_;
};

class TestCluster {
 public:
  // One cluster per test process, started on first use and removed at exit.
  static TestCluster& shared();

  explicit TestCluster(TestClusterOptions options = {});  // initdb and start
  ~TestCluster();                                        // stop and remove everything
  TestCluster(const TestCluster&) = delete;

  // A fresh database "t_<pid>_<n>" cloned from the template database. Thread-safe.
  TestDatabase create_database();
  // Runs fill once against the template database, before any create_database(),
  // to give every later database the same starting content (e.g. pgstack's schemas).
  // Later calls do nothing, so every test may call it in SetUp with the same fill; a
  // first call after create_database() throws (earlier databases would lack it). If
  // fill throws, the template is reset to empty and the exception propagates.
  void prepare_template(const std::function<void(pgstack::pg::Connection&)>& fill);

  std::string dsn(std::string_view database = "postgres") const;      // Unix socket
  std::string tcp_dsn(std::string_view database = "postgres") const;  // 127.0.0.1:port
  int port() const noexcept;
  const std::string& root_dir() const noexcept;    // the temp folder holding it all
  const std::string& data_dir() const noexcept;
  const std::string& socket_dir() const noexcept;
  const std::string& log_file() const noexcept;    // the server's log: look here when it fails
  std::string superuser() const;
  // The postmaster's pid from postmaster.pid; 0 when the server is not running.
  pid_t postmaster_pid() const;

  // Faults for tests: stop (fast), start again on the same port (another one only if
  // that port was taken meanwhile), restart, or SIGKILL the postmaster (crash; start()
  // then runs crash recovery). kill_server returns once the server's processes are gone.
  void stop();
  void start();
  void restart();
  void kill_server();
  // pg_ctl stop -m immediate: backends quit at once, replies in flight are lost, and no
  // shutdown checkpoint is written (start() then runs crash recovery).
  void stop_immediately();

 private:
  struct State;
  std::unique_ptr<State> state_;
  friend class TestDatabase;
};

}  // namespace pgstack::testing

// TestCluster: a real PostgreSQL 15 for tests and benchmarks, in a temp folder with a
// private port and socket, run as `postgres` when the test runs as root. Each test gets
// a fresh database cloned from a template. Everything is removed when the cluster is
// destroyed, and also when the test process dies any other way (a watchdog process
// stops the server when our end of a pipe closes), so no server outlives its run.
//
//   auto& cluster = pgstack::testing::TestCluster::shared();
//   auto db = cluster.create_database();              // dropped at end of scope
//   pgstack::pg::Connection conn(db.dsn());
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
  // Extra postgresql.conf lines, e.g. "max_connections = 200".
  std::vector<std::string> settings;
};

class TestCluster;

// A database of its own for one test; dropped (connections and all) when destroyed.
class TestDatabase {
 public:
  TestDatabase(TestCluster& cluster, std::string name);
  TestDatabase(TestDatabase&&) noexcept;
  TestDatabase(const TestDatabase&) = delete;
  ~TestDatabase();

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

  // A fresh database cloned from the template database.
  TestDatabase create_database();
  // Runs fill once against the template database, before any create_database(),
  // to give every later database the same starting content (e.g. pgstack's schemas).
  void prepare_template(const std::function<void(pgstack::pg::Connection&)>& fill);

  std::string dsn(std::string_view database = "postgres") const;      // Unix socket
  std::string tcp_dsn(std::string_view database = "postgres") const;  // 127.0.0.1:port
  int port() const noexcept;
  const std::string& root_dir() const noexcept;    // the temp folder holding it all
  const std::string& data_dir() const noexcept;
  const std::string& socket_dir() const noexcept;
  std::string superuser() const;
  pid_t postmaster_pid() const;

  // Faults for tests: stop (fast), start again on the same port, restart, or SIGKILL
  // the postmaster (crash; start() then runs crash recovery).
  void stop();
  void start();
  void restart();
  void kill_server();

 private:
  struct State;
  std::unique_ptr<State> state_;
  friend class TestDatabase;
};

}  // namespace pgstack::testing

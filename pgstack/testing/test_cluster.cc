// TestCluster's life: folder and watchdog first (so even a failed initdb is cleaned
// up), then initdb, test settings, start on a free port, and the template database.
#include "pgstack/testing/test_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>

#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"
#include "pgstack/testing/cluster_folder.h"
#include "pgstack/testing/watchdog.h"

namespace pgstack::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSuperuser = "postgres";
constexpr const char* kTemplate = "pgstack_template";
constexpr const char* kPortFile = "pgstack_port.conf";
constexpr int kStartAttempts = 5;

// A value for a keyword DSN: quoted when it holds spaces, quotes or backslashes.
std::string dsn_value(std::string_view value) {
  if (!value.empty() && value.find_first_of(" '\\\t\n") == std::string_view::npos) return std::string(value);
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// A string literal for postgresql.conf.
std::string conf_string(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::uintmax_t size_of(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

void write_file(const fs::path& path, const std::string& text, pgstack::WriteMode mode = pgstack::WriteMode::replace) {
  pgstack::write_text_file(path.string(), text, mode);
  sys::give_to_server_user(path.string());
}

// Runs a PostgreSQL program as the server user from the cluster folder (the server user
// may not be allowed into our working directory).
sys::RunResult run_server_program(const std::string& root, std::vector<std::string> argv,
                                  std::chrono::milliseconds timeout) {
  argv[0] = sys::pg_binary(argv[0]);
  return sys::run(argv, {.as_user = sys::server_user(), .cwd = root, .timeout = timeout});
}

bool is_port_collision(const std::string& log) {
  return log.find("could not bind") != std::string::npos || log.find("Address already in use") != std::string::npos ||
         log.find("could not create any TCP/IP sockets") != std::string::npos;
}

}  // namespace

struct TestCluster::State {
  TestClusterOptions options;
  pid_t owner_pid = ::getpid();  // a forked child must not tear down its parent's cluster
  std::string root;
  std::string data;
  std::string socket;
  std::string log;
  int port = 0;
  std::unique_ptr<detail::Watchdog> watchdog;

  std::mutex mutex;  // guards the fields below
  int databases_created = 0;
  bool template_prepared = false;

  bool owned_by_this_process() const { return ::getpid() == owner_pid; }
  std::string dsn(std::string_view database) const {
    return "host=" + dsn_value(socket) + " port=" + std::to_string(port) + " dbname=" + dsn_value(database) +
           " user=" + kSuperuser;
  }
  void initdb();
  void write_settings();
  void write_port();
  void start();
  void stop(const char* mode);
  void create_template();
  void drop_template();
  void tear_down() noexcept;
};

void TestCluster::State::initdb() {
  auto r = run_server_program(root,
                              {"initdb", "-D", data, "-U", kSuperuser, "-A", "trust", "-E", "UTF8", "--locale=C",
                               "--lc-ctype=C.UTF-8", "--lc-messages=C", "--no-sync", "--no-instructions"},
                              120s);
  if (r.exit_code != 0) {
    throw Error("TestCluster: initdb failed (exit " + std::to_string(r.exit_code) + "):\n" + r.output);
  }
}

void TestCluster::State::write_settings() {
  std::string conf =
      "\n# pgstack TestCluster: speed over durability, a test cluster is thrown away.\n"
      "fsync = off\n"
      "synchronous_commit = off\n"
      "full_page_writes = off\n"
      "max_connections = 200\n"
      "listen_addresses = '127.0.0.1'\n"
      "unix_socket_directories = " + conf_string(socket) + "\n"
      "shared_preload_libraries = 'pg_stat_statements'\n"
      "include '" + std::string(kPortFile) + "'\n";
  for (const auto& line : options.settings) conf += line + "\n";
  write_file(fs::path(data) / "postgresql.conf", conf, pgstack::WriteMode::append);
}

void TestCluster::State::write_port() {
  write_file(fs::path(data) / kPortFile, "port = " + std::to_string(port) + "\n");
}

void TestCluster::State::start() {
  // After a crash the postmaster's children linger briefly, and its pid may stay a
  // zombie (PID 1 in containers may never reap it), which postgres would take for a
  // running server: wait for the former, drop the lock files naming the latter.
  detail::wait_for_server_processes_to_exit(data, 15000);
  detail::remove_stale_lock_files(data, socket);
  for (int attempt = 1;; ++attempt) {
    if (port == 0 || attempt > 1 || sys::port_in_use(port)) {
      port = sys::free_tcp_port();
      write_port();
    }
    auto log_start = size_of(log);
    auto r = run_server_program(root, {"pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", log, "-s"}, 90s);
    if (r.exit_code == 0) return;
    std::string server_log = pgstack::read_text_file(log, log_start);
    if (attempt < kStartAttempts && is_port_collision(server_log)) continue;  // someone took the port
    throw Error("TestCluster: pg_ctl start failed (exit " + std::to_string(r.exit_code) + "): " + r.output +
                "\nserver log " + log + ":\n" + server_log);
  }
}

void TestCluster::State::stop(const char* mode) {
  if (detail::read_postmaster_pid(data) == 0) return;  // not running
  auto r = run_server_program(root, {"pg_ctl", "stop", "-D", data, "-m", mode, "-w", "-t", "60", "-s"}, 90s);
  if (r.exit_code != 0 && detail::is_live_postgres(detail::read_postmaster_pid(data))) {
    throw Error("TestCluster: pg_ctl stop failed (exit " + std::to_string(r.exit_code) + "): " + r.output);
  }
  detail::wait_for_server_processes_to_exit(data, 15000);
}

void TestCluster::State::create_template() {
  pg::Connection admin(dsn("postgres"));
  admin.execute_script("CREATE DATABASE " + admin.quote_identifier(kTemplate) + " TEMPLATE template1");
}

void TestCluster::State::drop_template() {
  pg::Connection admin(dsn("postgres"));
  admin.execute_script("DROP DATABASE IF EXISTS " + admin.quote_identifier(kTemplate) + " WITH (FORCE)");
}

void TestCluster::State::tear_down() noexcept {
  detail::stop_server_now(data);
  std::error_code ec;
  fs::remove_all(root, ec);
  watchdog.reset();  // after the folder is gone: the watchdog then finds nothing to do
}

// ---------------------------------------------------------------------------------

TestCluster& TestCluster::shared() {
  // A function-local static: destroyed (server stopped, folder removed) at normal exit;
  // any other death is the watchdog's.
  static TestCluster cluster;
  return cluster;
}

TestCluster::TestCluster(TestClusterOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  for (const char* program : {"initdb", "pg_ctl", "postgres"}) (void)sys::pg_binary(program);

  std::string base = detail::cluster_folder_base();
  detail::sweep_stale_cluster_folders(base);
  s.root = detail::make_cluster_folder(base);
  s.data = s.root + "/data";
  s.socket = s.root + "/sock";
  s.log = s.root + "/log";
  try {
    fs::create_directory(s.socket);
    sys::give_to_server_user(s.root);
    s.watchdog = std::make_unique<detail::Watchdog>(s.root);
    s.initdb();
    s.write_settings();
    s.start();
    s.create_template();
  } catch (...) {
    s.tear_down();
    throw;
  }
}

TestCluster::~TestCluster() {
  if (!state_ || !state_->owned_by_this_process()) return;
  state_->tear_down();
}

TestDatabase TestCluster::create_database() {
  int n = 0;
  {
    std::lock_guard lock(state_->mutex);
    n = ++state_->databases_created;
  }
  std::string name = "t_" + std::to_string(::getpid()) + "_" + std::to_string(n);
  pg::Connection admin(dsn("postgres"));
  // Fails if someone is connected to the template; prepare_template() closes its
  // connection before returning, and the server waits up to 5 s for it to go.
  admin.execute_script("CREATE DATABASE " + admin.quote_identifier(name) + " TEMPLATE " +
                       admin.quote_identifier(kTemplate));
  return TestDatabase(*this, std::move(name));
}

void TestCluster::prepare_template(const std::function<void(pg::Connection&)>& fill) {
  std::lock_guard lock(state_->mutex);
  if (state_->template_prepared) return;
  if (state_->databases_created > 0) {
    throw Error("TestCluster::prepare_template must run before the first create_database(): " +
                std::to_string(state_->databases_created) + " database(s) were cloned without its content");
  }
  try {
    pg::Connection conn(dsn(kTemplate));
    fill(conn);
  } catch (...) {
    // A half-filled template must not leak into later tests.
    try {
      state_->drop_template();
      state_->create_template();
    } catch (...) {
    }
    throw;
  }
  state_->template_prepared = true;
}

std::string TestCluster::dsn(std::string_view database) const { return state_->dsn(database); }

std::string TestCluster::tcp_dsn(std::string_view database) const {
  return "host=127.0.0.1 port=" + std::to_string(state_->port) + " dbname=" + dsn_value(database) +
         " user=" + kSuperuser;
}

int TestCluster::port() const noexcept { return state_->port; }
const std::string& TestCluster::root_dir() const noexcept { return state_->root; }
const std::string& TestCluster::data_dir() const noexcept { return state_->data; }
const std::string& TestCluster::socket_dir() const noexcept { return state_->socket; }
const std::string& TestCluster::log_file() const noexcept { return state_->log; }
std::string TestCluster::superuser() const { return kSuperuser; }
pid_t TestCluster::postmaster_pid() const {
  pid_t pid = detail::read_postmaster_pid(state_->data);
  return detail::is_live_postgres(pid) ? pid : 0;  // a crashed server leaves its pid file behind
}

void TestCluster::stop() { state_->stop("fast"); }
void TestCluster::stop_immediately() { state_->stop("immediate"); }
void TestCluster::start() { state_->start(); }

void TestCluster::restart() {
  stop();
  start();
}

void TestCluster::kill_server() {
  pid_t pid = postmaster_pid();
  if (!detail::is_live_postgres(pid)) throw Error("TestCluster::kill_server: no server is running in " + data_dir());
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 500 && sys::process_alive(pid); ++i) std::this_thread::sleep_for(10ms);
  detail::wait_for_server_processes_to_exit(state_->data, 15000);
}

// ---------------------------------------------------------------------------------

TestDatabase::TestDatabase(TestCluster& cluster, std::string name) : cluster_(&cluster), name_(std::move(name)) {}

TestDatabase::TestDatabase(TestDatabase&& other) noexcept
    : cluster_(std::exchange(other.cluster_, nullptr)), name_(std::move(other.name_)) {}

TestDatabase::~TestDatabase() {
  if (cluster_ == nullptr || !cluster_->state_->owned_by_this_process()) return;
  try {
    pg::Connection admin(pg::ConnectOptions{.dsn = cluster_->dsn("postgres"), .connect_timeout = 2s});
    admin.execute_script("DROP DATABASE IF EXISTS " + admin.quote_identifier(name_) + " WITH (FORCE)");
  } catch (...) {
    // The server may be stopped or gone (a fault test); the folder goes with the cluster.
  }
}

std::string TestDatabase::dsn() const { return cluster_->dsn(name_); }
std::string TestDatabase::tcp_dsn() const { return cluster_->tcp_dsn(name_); }

}  // namespace pgstack::testing

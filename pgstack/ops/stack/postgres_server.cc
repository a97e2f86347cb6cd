#include "pgstack/ops/stack/postgres_server.h"

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "pgstack/ops/stack/backup.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;


sys::RunResult run_as_server(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  return sys::run(argv, {.as_user = sys::server_user(), .timeout = timeout});
}

}  // namespace

std::string conf_string(std::string_view text) {
  // postgresql.conf's parser reads backslash escapes inside quotes, so both a quote and
  // a backslash are doubled.
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  return out + "'";
}

PostgresServer::PostgresServer(const ClusterLayout& layout, const Component& component)
    : layout_(layout), component_(component) {}

std::string PostgresServer::config_file() const { return (component_.dir / "pgstack.conf").string(); }

bool PostgresServer::initialized() const { return fs::exists(component_.dir / "PG_VERSION"); }

ServerState PostgresServer::state() const {
  ServerState s;
  auto pid_file = component_.dir / "postmaster.pid";
  if (!fs::exists(pid_file)) return s;
  std::istringstream in(read_text_file(pid_file));
  long pid = 0;
  in >> pid;
  if (pid <= 0) {
    s.stale_pid = true;
    return s;
  }
  bool alive = sys::process_alive(static_cast<pid_t>(pid));
  if (alive) {
    // After a reboot or crash the pid may belong to another program now; and a killed
    // postmaster stays a zombie until its parent (often init) reaps it.
    std::string comm = read_text_file(fmt::format("/proc/{}/comm", pid));
    if (!comm.empty() && comm.rfind("postgres", 0) != 0) alive = false;
    std::string stat = read_text_file(fmt::format("/proc/{}/stat", pid));
    auto paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X'))
      alive = false;
  }
  s.running = alive;
  s.pid = alive ? static_cast<pid_t>(pid) : 0;
  s.stale_pid = !alive;
  return s;
}

void PostgresServer::initdb() {
  // initdb works in a sibling folder renamed into place at the end, so an `up` killed
  // midway leaves no half-made cluster where a real one is expected; the next `up`
  // discards the leftover and starts over.
  const fs::path staging = component_.dir.string() + ".initdb";
  std::error_code ec;
  fs::remove_all(staging, ec);
  if (ec) throw Error(fmt::format("cannot remove {} (left by an interrupted initdb): {}", staging.string(), ec.message()));
  fs::create_directories(staging);
  sys::give_to_server_user(staging.string());
  auto r = run_as_server({sys::pg_binary("initdb"), "-D", staging.string(), "--data-checksums", "-E", "UTF8",
                          "--locale=C.UTF-8", "-U", kSuperuser, "--auth-local=peer", "--auth-host=reject"},
                         120s);
  if (r.exit_code != 0) {
    fs::remove_all(staging, ec);
    throw Error(fmt::format("initdb of {} failed (exit {}):\n{}\nfix the cause and run pgstack up again",
                            component_.dir.string(), r.exit_code, sys::last_lines(r.output, 10)));
  }
  {
    std::ofstream conf(staging / "postgresql.conf", std::ios::app);
    conf << "\n# Settings managed by pgstack (rewritten by `pgstack up`); ALTER SYSTEM still wins.\n"
         << "include 'pgstack.conf'\n";
    if (!conf) throw Error(fmt::format("cannot append to {}/postgresql.conf; check free space", staging.string()));
  }
  fs::remove(component_.dir, ec);  // an empty folder only; up refuses a non-empty one before this
  fs::rename(staging, component_.dir, ec);
  if (ec) throw Error(fmt::format("cannot move {} to {}: {}", staging.string(), component_.dir.string(), ec.message()));
}

bool PostgresServer::write_config(const std::vector<tune::Setting>& settings) {
  std::string text =
      "# Managed by pgstack: `pgstack up` rewrites this file. Override a setting with\n"
      "# ALTER SYSTEM (postgresql.auto.conf), which is read after it.\n";
  text += tune::to_conf(settings);
  // 0600 like the server's own configuration files.
  if (!pgstack::replace_file_if_changed(config_file(), text, 0600)) return false;
  sys::give_to_server_user(config_file());
  return true;
}

void PostgresServer::base_backup_from(const Component& primary, const std::string& slot) {
  fs::create_directories(component_.dir);
  sys::give_to_server_user(component_.dir.string());
  fs::permissions(component_.dir, fs::perms::owner_all, fs::perm_options::replace);
  auto r = run_as_server({sys::pg_binary("pg_basebackup"), "-h", layout_.run_dir().string(), "-p",
                          std::to_string(primary.port), "-U", kSuperuser, "-D", component_.dir.string(), "-R", "-X",
                          "stream", "-S", slot, "-c", "fast", "--no-sync"},
                         300s);
  if (r.exit_code != 0)
    throw Error(fmt::format("pg_basebackup of the {} from the {} failed (exit {}):\n{}\nremove {} and run pgstack up again",
                            component_.name, primary.name, r.exit_code, sys::last_lines(r.output, 10), component_.dir.string()));
}

void PostgresServer::start() {
  auto log = layout_.log_file(component_);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (true) {
    auto before = fs::exists(log) ? fs::file_size(log) : 0;
    auto r = run_as_server({sys::pg_binary("pg_ctl"), "start", "-w", "-t", "60", "-D", component_.dir.string(), "-l",
                            log.string()},
                           90s);
    if (r.exit_code == 0) return;
    std::string log_text = read_text_file(log);
    std::string fresh = log_text.size() > before ? log_text.substr(before) : log_text;
    // A killed postmaster's backends exit on their own within moments; until they do
    // the old shared memory block is in use and the new postmaster refuses to start.
    bool transient = fresh.find("is still in use") != std::string::npos ||
                     fresh.find("already exists") != std::string::npos;
    if (transient && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(500ms);
      continue;
    }
    std::string why = sys::last_lines(fresh.empty() ? r.output : fresh, 6);
    if (why.find("Address already in use") != std::string::npos)
      throw Error(fmt::format("postgres could not listen on port {}: another process took it; pass --port or stop it",
                              component_.port));
    throw Error(fmt::format("postgres did not start (pg_ctl exit {}):\n{}\nthe full log is {}", r.exit_code, why,
                            log.string()));
  }
}

void PostgresServer::stop() {
  auto r = run_as_server({sys::pg_binary("pg_ctl"), "stop", "-w", "-t", "60", "-m", "fast", "-D", component_.dir.string()},
                         90s);
  if (r.exit_code != 0 && state().running)
    throw Error(fmt::format("pg_ctl stop failed (exit {}): {}; see {}", r.exit_code, sys::last_lines(r.output, 6),
                            layout_.log_file(component_).string()));
}

bool PostgresServer::apply_config(const std::string& superuser_dsn) {
  {
    pg::Connection conn(superuser_dsn);
    auto before = conn.query_value<std::string>("select pg_conf_load_time()::text");
    conn.execute_script("select pg_reload_conf()");
    // The postmaster rereads the files when the signal arrives; a session started after
    // that inherits the new load time, and the new pg_hba rules apply to it.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      pg::Connection fresh(superuser_dsn);
      if (fresh.query_value<std::string>("select pg_conf_load_time()::text") != before) break;
      std::this_thread::sleep_for(50ms);
    }
    pg::Connection fresh(superuser_dsn);
    if (fresh.query_value<std::int64_t>("select count(*) from pg_settings where pending_restart") == 0) return false;
  }
  stop();
  start();
  return true;
}

std::vector<tune::Setting> stack_settings(const ClusterLayout& layout, const Component& component, bool pg_cron) {
  std::vector<tune::Setting> out = {
      {"listen_addresses", "'127.0.0.1'", "local stack: reachable from this machine only"},
      {"port", std::to_string(component.port), "the stack's port (pgstack up --port)"},
      {"unix_socket_directories", conf_string(layout.run_dir().string()), "sockets stay inside the stack's folder"},
      {"cluster_name", conf_string("pgstack-" + component.name), "names the processes in ps"},
      {"ssl", "on", "TCP clients must use TLS (pg_hba.conf); server.crt/server.key in the data folder"},
      {"unix_socket_permissions", "0770", "the sockets are the stack's user's and group's only (so is their folder)"},
      {"password_encryption", "'scram-sha-256'", "passwords are stored as SCRAM verifiers"},
  };
  for (auto& s : archive_settings(layout, component)) out.push_back(std::move(s));  // backup.h
  if (pg_cron) {
    out.push_back({"cron.database_name", conf_string(layout.database), "pg_cron runs jobs in the application's database"});
    out.push_back({"cron.host", conf_string(layout.run_dir().string()), "pg_cron connects over the stack's socket"});
  }
  return out;
}

bool pg_cron_installed() {
  std::string libdir = "/usr/lib/postgresql/15/lib";
  std::string sharedir = "/usr/share/postgresql/15";
  try {
    auto r = sys::run({sys::pg_binary("pg_config"), "--pkglibdir", "--sharedir"}, {.timeout = 10s});
    std::istringstream in(r.output);
    if (r.exit_code == 0) in >> libdir >> sharedir;
  } catch (const Error&) {
    // pg_config ships with the server package; the Debian paths above are its answer.
  }
  return fs::exists(fs::path(libdir) / "pg_cron.so") && fs::exists(fs::path(sharedir) / "extension" / "pg_cron.control");
}

}  // namespace pgstack::stack

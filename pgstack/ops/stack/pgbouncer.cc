#include "pgstack/ops/stack/pgbouncer.h"

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "pgstack/ops/stack/roles.h"
#include "pgstack/pg/connection.h"
#include "pgstack/pg/errors.h"
#include "pgstack/base/files.h"
#include "pgstack/sys/process.h"

namespace pgstack::stack {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

fs::path ini_file(const ClusterLayout& layout) { return layout.pgbouncer_dir() / "pgbouncer.ini"; }
fs::path pid_file(const ClusterLayout& layout) { return layout.run_dir() / "pgbouncer.pid"; }

std::string pgbouncer_binary() {
  if (auto path = sys::find_program("pgbouncer")) return *path;
  throw Error("pgbouncer not found on PATH or in /usr/sbin: install the pgbouncer package (scripts/install-deps)");
}

// pgbouncer.ini takes a value as the rest of its line, quotes and all: written raw, so
// only a line break cannot be represented.
std::string ini_value(const std::string& value) {
  if (value.find_first_of("\r\n") != std::string::npos)
    throw Error(fmt::format("the path {} holds a line break, which pgbouncer.ini cannot hold; use another --dir", value));
  return value;
}

// A value in a [databases] connection string: quoted when it holds a space or a quote,
// a quote inside doubled.
std::string connstring_value(const std::string& value) {
  if (value.find_first_of(" '") == std::string::npos) return ini_value(value);
  std::string out = "'";
  for (char c : ini_value(value)) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string ini_text(const ClusterLayout& layout) {
  const auto& pool = layout.pgbouncer;
  const auto host = connstring_value(layout.run_dir().string());
  std::string databases = fmt::format("{} = host={} port={} dbname={}\n", layout.pooled_database(false), host,
                                      layout.primary().port, layout.database);
  if (const Component* standby = layout.standby())
    databases += fmt::format("{} = host={} port={} dbname={}\n", layout.pooled_database(true), host, standby->port,
                             layout.database);
  const auto& cert_dir = layout.primary().dir;
  return fmt::format(R"(; Managed by pgstack: `pgstack up` rewrites this file and reloads PgBouncer
; (docs/stack.md). Edits here are lost.

[databases]
; Over the stack's Unix socket: no TLS needed between PgBouncer and the servers.
{databases}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir = {run}
; The socket is the stack's user's and group's only (so is its folder).
unix_socket_mode = 0770
pidfile = {pidfile}
logfile = {logfile}

; Transaction pooling: a server connection serves a client for one transaction.
; Session state (SET, prepared statements, advisory session locks) does not carry
; over; role-level settings (ALTER ROLE ... SET) do, which is why the stack keeps its
; timeouts on the roles.
pool_mode = transaction
default_pool_size = {pool_size}
reserve_pool_size = 5
max_db_connections = {max_db}
max_client_conn = {max_clients}
server_idle_timeout = 300
; JDBC and some drivers send it at startup; harmless to ignore.
ignore_startup_parameters = extra_float_digits

; Clients: TLS required, SCRAM passwords (the hba file); the admin console on the socket,
; also with a password.
auth_type = hba
auth_hba_file = {hba}
auth_file = {userlist}
admin_users = {superuser}
stats_users = {superuser}
client_tls_sslmode = require
client_tls_cert_file = {cert}
client_tls_key_file = {key}
)",
                     fmt::arg("databases", databases), fmt::arg("port", pool.port), fmt::arg("run", ini_value(layout.run_dir().string())),
                     fmt::arg("pidfile", ini_value(pid_file(layout).string())),
                     fmt::arg("logfile", ini_value(layout.pgbouncer_log_file().string())),
                     fmt::arg("pool_size", pool.default_pool_size), fmt::arg("max_db", pool.max_db_connections),
                     fmt::arg("max_clients", pool.max_client_conn),
                     fmt::arg("hba", ini_value((layout.pgbouncer_dir() / "pgbouncer_hba.conf").string())),
                     fmt::arg("userlist", ini_value((layout.pgbouncer_dir() / "userlist.txt").string())),
                     fmt::arg("superuser", kSuperuser),
                     fmt::arg("cert", ini_value((cert_dir / "server.crt").string())),
                     fmt::arg("key", ini_value((cert_dir / "server.key").string())));
}

std::string hba_text() {
  return R"(# Managed by pgstack (docs/stack.md); edits here are lost. The first matching line wins;
# what matches no line is rejected, so TCP without TLS never gets in.
# TYPE    DATABASE    USER       ADDRESS        METHOD
local     pgbouncer   postgres                  scram-sha-256
hostssl   all         postgres   127.0.0.1/32   reject
hostssl   all         all        127.0.0.1/32   scram-sha-256
)";
}

// The login roles and their passwords, which PgBouncer needs in clear to log in to the
// servers with SCRAM on the clients' behalf. Same secrecy as the credentials file:
// mode 0600, readable by the server user only. The superuser is there for the admin
// console, which the hba file opens on the socket only, with its password.
std::string userlist_text(const ClusterLayout& layout) {
  const auto passwords = read_credentials(layout.credentials_file());
  std::string text;
  for (const auto& role : password_roles()) {
    auto it = passwords.find(role);
    if (it == passwords.end())
      throw Error(fmt::format("{} holds no password for role {}; run pgstack up to make the roles first",
                              layout.credentials_file().string(), role));
    text += fmt::format("\"{}\" \"{}\"\n", role, it->second);  // passwords are URL-safe base64: no quotes inside
  }
  return text;
}

// Writes the four files; true when any changed.
bool write_files(const ClusterLayout& layout) {
  const auto dir = layout.pgbouncer_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}; check the folder's permissions", dir.string(), ec.message()));
  bool changed = false;
  changed |= pgstack::replace_file_if_changed(ini_file(layout).string(), ini_text(layout), 0640);
  changed |= pgstack::replace_file_if_changed((dir / "pgbouncer_hba.conf").string(), hba_text(), 0640);
  changed |= pgstack::replace_file_if_changed((dir / "userlist.txt").string(), userlist_text(layout), 0600);
  sys::give_to_server_user(dir.string());
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, fs::perm_options::replace, ec);
  return changed;
}

pid_t read_pid(const ClusterLayout& layout) {
  auto text = pgstack::read_text_file(pid_file(layout).string());
  return static_cast<pid_t>(std::atol(text.c_str()));
}

// Waits until the admin console answers: PgBouncer is listening and has read its files.
void wait_until_ready(const ClusterLayout& layout, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      pg::Connection admin(pg::ConnectOptions{
          .dsn = layout.pgbouncer_admin_dsn(), .connect_timeout = 1s, .statement_cache = false});
      admin.simple_query("SHOW VERSION");
      return;
    } catch (const Error& e) {
      last_error = e.what();
    }
    std::this_thread::sleep_for(50ms);
  }
  throw Error(fmt::format("PgBouncer did not answer on port {} ({}); see {}", layout.pgbouncer.port, last_error,
                          layout.pgbouncer_log_file().string()));
}

void start(const ClusterLayout& layout) {
  if (sys::port_in_use(layout.pgbouncer.port))
    throw Error(fmt::format("port {} (PgBouncer) is in use by another process; stop it or set [pgbouncer] port in "
                            "pgstack.toml",
                            layout.pgbouncer.port));
  // umask 027: its log and pid file are the stack's user's and group's only.
  auto r = sys::run({pgbouncer_binary(), "-d", ini_file(layout).string()},
                    {.as_user = sys::server_user(), .timeout = 20s, .umask = 0027});
  if (r.exit_code != 0)
    throw Error(fmt::format("pgbouncer did not start (exit {}): {}; see {}", r.exit_code, r.output,
                            layout.pgbouncer_log_file().string()));
  wait_until_ready(layout, 10s);
}

bool wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (sys::process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// True when PgBouncer's socket lets users outside the stack's group connect.
bool socket_open_to_others(const ClusterLayout& layout) {
  struct stat st {};
  const auto socket = layout.run_dir() / fmt::format(".s.PGSQL.{}", layout.pgbouncer.port);
  return ::stat(socket.c_str(), &st) == 0 && (st.st_mode & 0007) != 0;
}

int to_int(const std::optional<std::string>& text) { return text ? std::atoi(text->c_str()) : 0; }

}  // namespace

PgBouncerState pgbouncer_state(const ClusterLayout& layout) {
  PgBouncerState st;
  const pid_t pid = read_pid(layout);
  if (pid <= 0) return st;
  // A pid file naming another program (the pid was reused after a crash) is stale too.
  const bool ours = pgstack::read_text_file(fmt::format("/proc/{}/comm", pid)).rfind("pgbouncer", 0) == 0;
  if (sys::process_alive(pid) && ours) {
    st.running = true;
    st.pid = pid;
  } else {
    st.stale_pid = true;
  }
  return st;
}

std::vector<std::string> ensure_pgbouncer(const ClusterLayout& layout) {
  std::vector<std::string> actions;
  if (!layout.pgbouncer.enabled) {
    if (stop_pgbouncer(layout))
      actions.push_back(fmt::format("stopped PgBouncer on port {}: it is disabled in pgstack.toml", layout.pgbouncer.port));
    return actions;
  }
  const bool changed = write_files(layout);
  auto st = pgbouncer_state(layout);
  if (st.running && socket_open_to_others(layout)) {
    // A PgBouncer started before unix_socket_mode was set: only a new start makes its
    // socket again (a reload does not).
    stop_pgbouncer(layout);
    start(layout);
    actions.push_back(fmt::format("restarted PgBouncer (pid {}) so its socket is the stack's user's and group's only",
                                  pgbouncer_state(layout).pid));
    return actions;
  }
  if (st.running) {
    if (changed) {
      // SIGHUP: PgBouncer rereads its ini, hba and auth files; clients stay connected.
      ::kill(st.pid, SIGHUP);
      actions.push_back(fmt::format("reloaded PgBouncer (pid {}) with its new configuration", st.pid));
    }
    return actions;
  }
  if (st.stale_pid) {
    std::error_code ec;
    fs::remove(pid_file(layout), ec);  // pgbouncer -d refuses to start over a pid file
    actions.push_back("found a stale pgbouncer.pid (PgBouncer had been killed); starting it again");
  }
  start(layout);
  actions.push_back(fmt::format("started PgBouncer on port {} (pid {}): {} -> primary, {} -> standby; log in {}",
                                layout.pgbouncer.port, pgbouncer_state(layout).pid, layout.pooled_database(false),
                                layout.pooled_database(true), layout.pgbouncer_log_file().string()));
  return actions;
}

bool stop_pgbouncer(const ClusterLayout& layout) {
  auto st = pgbouncer_state(layout);
  if (!st.running) return false;
  // SIGINT is PgBouncer's safe shutdown: it waits for running transactions to end.
  ::kill(st.pid, SIGINT);
  if (!wait_for_exit(st.pid, 5s)) {
    ::kill(st.pid, SIGTERM);  // immediate shutdown: clients are disconnected
    if (!wait_for_exit(st.pid, 5s)) {
      ::kill(st.pid, SIGKILL);
      wait_for_exit(st.pid, 5s);
    }
  }
  std::error_code ec;
  fs::remove(pid_file(layout), ec);
  return true;
}

namespace {
// A SHOW command of PgBouncer's admin console (simple protocol only).
pg::TextRows admin_show(const ClusterLayout& layout, const char* command) {
  pg::Connection admin(pg::ConnectOptions{
      .dsn = layout.pgbouncer_admin_dsn(), .connect_timeout = 3s, .statement_cache = false});
  return admin.simple_query(command);
}
}  // namespace

std::vector<PoolStatus> pgbouncer_pools(const ClusterLayout& layout) {
  auto rows = admin_show(layout, "SHOW POOLS");
  std::vector<PoolStatus> out;
  for (const auto& row : rows.rows) {
    auto text = [&](const char* column) { return row[rows.column(column)].value_or(""); };
    auto number = [&](const char* column) { return to_int(row[rows.column(column)]); };
    if (text("database") == "pgbouncer") continue;  // the admin console itself
    out.push_back({.database = text("database"),
                   .user = text("user"),
                   .clients_active = number("cl_active"),
                   .clients_waiting = number("cl_waiting"),
                   .servers_active = number("sv_active"),
                   .servers_idle = number("sv_idle"),
                   .servers_used = number("sv_used"),
                   .max_wait_seconds = number("maxwait"),
                   .pool_mode = text("pool_mode")});
  }
  return out;
}

std::vector<PoolerStats> pgbouncer_stats(const ClusterLayout& layout) {
  auto rows = admin_show(layout, "SHOW STATS");
  std::vector<PoolerStats> out;
  for (const auto& row : rows.rows) {
    auto number = [&](const char* column) -> std::int64_t {
      const auto& v = row[rows.column(column)];
      return v ? std::atoll(v->c_str()) : 0;
    };
    auto database = row[rows.column("database")].value_or("");
    if (database == "pgbouncer") continue;
    out.push_back({.database = database,
                   .transactions = number("total_xact_count"),
                   .queries = number("total_query_count"),
                   .bytes_received = number("total_received"),
                   .bytes_sent = number("total_sent"),
                   .transaction_microseconds = number("total_xact_time"),
                   .query_microseconds = number("total_query_time"),
                   .wait_microseconds = number("total_wait_time")});
  }
  return out;
}

}  // namespace pgstack::stack

#include "pgstack/ops/stack/stack.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "pgstack/base/files.h"
#include "pgstack/ops/stack/backup.h"
#include "pgstack/ops/stack/extensions.h"
#include "pgstack/ops/stack/pg_hba.h"
#include "pgstack/ops/stack/pgbouncer.h"
#include "pgstack/ops/stack/postgres_server.h"
#include "pgstack/ops/stack/preflight.h"
#include "pgstack/ops/stack/roles.h"
#include "pgstack/ops/stack/server_settings.h"
#include "pgstack/ops/stack/tls.h"
#include "pgstack/ops/stack/stack_config.h"
#include "pgstack/ops/stack/standby.h"
#include "pgstack/pg/connection.h"
#include "pgstack/schema/maintenance_schedule.h"
#include "pgstack/schema/migration_runner.h"
#include "pgstack/sys/process.h"
#include "pgstack/ops/tune/tune.h"

namespace pgstack::stack {
namespace {

namespace fs = std::filesystem;

// Serialises concurrent `pgstack up`/`down` on one folder; released when the process ends.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& dir) {
    auto file = (dir / ".lock").string();
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw Error(fmt::format("cannot create {}: {}; pass --dir with a writable folder", file, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return;
      // Another pgstack works on this stack: wait for it rather than race it.
      ::flock(fd_, LOCK_EX);
    }
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FolderLock(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

void check_port(int port, const std::string& what) {
  if (port < kLowestServerPort || port > 65535)
    throw Error(fmt::format("port {} of {} is out of range: it must be from {} to 65535; pass --port or fix pgstack.toml",
                            port, what, kLowestServerPort));
}

// The stack's folder and the folders the servers write (sockets, logs, data): open to
// the stack's own user and group only (0750), so no other local user reaches a socket,
// a log or a configuration file. The server user (postgres, when we are root) passes
// through the stack's folder by its group. Also applied to a running stack made before.
void secure_folders(const ClusterLayout& layout) {
  sys::restrict_folder_to_stack(layout.dir.string());
  std::error_code ec;
  for (const auto& sub : {layout.run_dir(), layout.logs_dir(), layout.dir / "data"}) {
    fs::create_directories(sub, ec);
    if (ec) throw Error(fmt::format("cannot create {}: {}; pass --dir with a writable folder", sub.string(), ec.message()));
    sys::give_to_server_user(sub.string());
    fs::permissions(sub, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, fs::perm_options::replace, ec);
    if (ec) throw Error(fmt::format("cannot make {} private (mode 0750): {}", sub.string(), ec.message()));
  }
}

// Creates dir and the folders the server writes, and checks the server user reaches them.
void prepare_folders(const ClusterLayout& layout) {
  std::error_code ec;
  fs::create_directories(layout.dir, ec);
  if (ec || ::access(layout.dir.c_str(), W_OK | X_OK) != 0)
    throw Error(fmt::format("cannot write to {}: {}; pass --dir with a writable folder", layout.dir.string(),
                            ec ? ec.message() : std::strerror(errno)));
  secure_folders(layout);
  if (auto user = sys::server_user(); !user.empty()) {
    auto r = sys::run({"test", "-w", layout.run_dir().string(), "-a", "-x", layout.run_dir().string()}, {.as_user = user});
    if (r.exit_code != 0)
      throw Error(fmt::format(
          "the {} user cannot reach {} (a parent folder is private to its owner); pass --dir with a folder "
          "others may enter, or run chmod o+x on the parents",
          user, layout.dir.string()));
  }
}

// Free space where the stack lives (its nearest existing folder): a server that runs
// out of disk stops, and a half-written initdb or backup is worse than not starting.
void check_free_space(const fs::path& dir, std::uint64_t min_free_bytes) {
  fs::path probe = dir;
  std::error_code ec;
  while (!probe.empty() && !fs::exists(probe, ec) && probe != probe.parent_path()) probe = probe.parent_path();
  struct statvfs st {};
  if (::statvfs(probe.c_str(), &st) != 0) return;  // unknown: the writes themselves will say
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  if (free_bytes < min_free_bytes)
    throw Error(fmt::format("only {} MiB free on the file system of {} (pgstack needs {} MiB for the servers' data, "
                            "WAL and backups); free some space or pass --dir on another disk; nothing was started",
                            free_bytes >> 20, probe.string(), min_free_bytes >> 20));
}

// Ports computed from --port and pgstack.toml together may still collide.
void check_distinct_ports(const ClusterLayout& layout) {
  std::vector<std::pair<int, std::string>> ports;
  for (const auto& c : layout.components) ports.emplace_back(c.port, c.name);
  if (layout.pgbouncer.enabled) ports.emplace_back(layout.pgbouncer.port, "pgbouncer");
  for (std::size_t i = 0; i < ports.size(); ++i)
    for (std::size_t j = i + 1; j < ports.size(); ++j)
      if (ports[i].first == ports[j].first)
        throw Error(fmt::format("the {} and the {} would both use port {}; give them different ports (--port, "
                                "pgstack.toml)",
                                ports[i].second, ports[j].second, ports[i].first));
}

// Programs and ports: checked before anything is created or started.
void check_programs_and_ports(const ClusterLayout& layout, bool after_crash) {
  for (const char* program : {"initdb", "pg_ctl", "postgres"}) (void)sys::pg_binary(program);
  (void)pgbackrest_program();  // archive_command needs it from the first start
  for (const auto& c : layout.components) {
    check_port(c.port, "the " + c.name);
    if (PostgresServer(layout, c).state().running) continue;  // its own port, of course
    // A killed postmaster's backends inherit its listening socket and keep the port
    // answering until they notice and exit, which takes them a moment.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(after_crash ? 15 : 0);
    while (sys::port_in_use(c.port) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (sys::port_in_use(c.port)) {
      if (after_crash)
        throw Error(fmt::format("port {} is still held, probably by processes left by the crashed server; "
                                "stop them (ps -u postgres) or pass --port", c.port));
      throw Error(fmt::format("port {} is in use by another process; pass --port or stop it", c.port));
    }
  }
  if (layout.pgbouncer.enabled) {
    if (!sys::find_program("pgbouncer"))
      throw Error("pgbouncer not found on PATH or in /usr/sbin: install the pgbouncer package (scripts/install-deps)");
    check_port(layout.pgbouncer.port, "PgBouncer");
    if (!pgbouncer_state(layout).running && sys::port_in_use(layout.pgbouncer.port))
      throw Error(fmt::format("port {} (PgBouncer) is in use by another process; pass --port or stop it",
                              layout.pgbouncer.port));
  }
}

void say(const UpOptions& options, const std::string& line) {
  if (options.progress) options.progress(line);
}

// The app database, its extensions, pgstack's schemas, the roles and their privileges:
// each created only if missing.
void ensure_database(const ClusterLayout& layout, UpReport& report) {
  {
    pg::Connection admin(layout.dsn(nullptr, "postgres"));
    auto exists = admin.query_optional<std::int32_t>("select 1 from pg_database where datname = $1", layout.database);
    if (!exists) {
      admin.execute_script("create database " + admin.quote_identifier(layout.database));
      report.actions.push_back(fmt::format("created database {}", layout.database));
    }
  }
  pg::Connection conn(layout.dsn());
  for (auto& a : ensure_extensions(conn)) report.actions.push_back(std::move(a));
  auto preload = conn.query_value<std::string>("select current_setting('shared_preload_libraries')");
  report.pg_cron = preload.find("pg_cron") != std::string::npos;
  schema::MigrationRunner runner(conn);
  auto applied = runner.apply(schema::builtin_module_list());
  for (const auto& m : applied.applied) {
    auto name = m.module + "/" + m.name;
    report.applied_migrations.push_back(name);
    report.actions.push_back("applied " + name);
  }
  for (auto& a : ensure_roles(conn, layout)) report.actions.push_back(std::move(a));
  auto schedule = schema::schedule_maintenance(conn);
  report.maintenance_scheduled = schedule.scheduled;
  if (schedule.changed || !schedule.scheduled) report.actions.push_back(schedule.detail);
}

// The primary's TLS certificate and pg_hba.conf (tls.h, pg_hba.h); true when either changed.
bool write_security_files(const ClusterLayout& layout, UpReport& report) {
  const auto& data = layout.primary().dir;
  bool changed = false;
  if (ensure_certificate(data)) {
    report.actions.push_back(fmt::format("made a self-signed TLS certificate ({}/server.crt)", data.string()));
    changed = true;
  }
  if (write_pg_hba(data)) {
    report.actions.push_back(fmt::format("wrote {}/pg_hba.conf (TLS and SCRAM over TCP)", data.string()));
    changed = true;
  }
  return changed;
}

// Writes stack.json when it changed.
void save_layout(const ClusterLayout& layout, UpReport& report) {
  auto json = layout.to_json().dump(2) + "\n";
  if (read_text_file(layout.stack_file()) == json) return;
  layout.save();
  const auto line = "wrote " + layout.stack_file().string();
  if (report.actions.empty() || report.actions.back() != line) report.actions.push_back(line);
}

// Where the primary's port came from, for its error: the flag, the file or stack.json.
std::string port_source(const UpOptions& options, const StackConfig& config) {
  if (options.port) return "--port";
  if (config.primary_port) return "[primary] port in " + config.file.string();
  return "the primary's port in stack.json";
}

// The components whose ports follow the primary's (pgstack.toml sets none of theirs).
std::vector<PortFollower> port_followers(const StackConfig& config) {
  std::vector<PortFollower> followers;
  if (!config.standby_port) followers.push_back({"the standby", 1});
  if (!config.pgbouncer_port && (!config.pgbouncer || config.pgbouncer->enabled)) followers.push_back({"PgBouncer", 2});
  return followers;
}

// The pgstack.toml to apply: the one named, else the one the stack was made from.
StackConfig read_config(const UpOptions& options, const std::optional<ClusterLayout>& existing) {
  if (options.config) return load_stack_config(*options.config);
  if (existing && !existing->config_file.empty()) {
    if (!fs::exists(existing->config_file))
      throw Error(fmt::format("the stack was made from {}, which is gone; restore it, or pass --config with another "
                              "file",
                              existing->config_file.string()));
    return load_stack_config(existing->config_file);
  }
  return {};
}

}  // namespace

UpReport up(const UpOptions& options_in) {
  auto existing = ClusterLayout::load(options_in.dir, ClusterLayout::BrokenFile::rebuild);
  const auto config = read_config(options_in, existing);
  UpOptions options = options_in;
  if (config.max_connections) options.max_connections = *config.max_connections;
  if (options.check_config && !config.file.empty()) options.check_config(config.file);
  const std::int64_t wanted_port = options.port.value_or(
      config.primary_port.value_or(existing ? existing->primary().port : kDefaultPort));
  check_primary_port(wanted_port, port_source(options, config), port_followers(config));
  const int port = static_cast<int>(wanted_port);
  ClusterLayout layout = existing ? *existing : ClusterLayout::local(options.dir, port);
  layout.add_standby();  // a stack made before standbys gets one (before anything holds a Component&)
  layout.config_file = config.file;
  {
    // Pool settings and the backup repository apply now; ports only to stopped components, below.
    const auto running_ports = layout;
    apply_stack_config(config, layout);
    layout.primary().port = running_ports.primary().port;
    if (layout.standby()) layout.standby()->port = running_ports.standby()->port;
    layout.pgbouncer.port = running_ports.pgbouncer.port;
  }
  if (layout.pgbouncer.enabled && layout.pgbouncer.max_db_connections > options.max_connections - 10)
    throw Error(fmt::format("PgBouncer's max_db_connections ({}) leaves the servers too few of their max_connections "
                            "({}) for the operator and replication; lower [pgbouncer] max_db_connections or raise "
                            "[stack] max_connections in {}",
                            layout.pgbouncer.max_db_connections, options.max_connections,
                            config.file.empty() ? std::string("a pgstack.toml") : config.file.string()));

  const int recorded_port = layout.primary().port;  // where a running server listens
  UpReport report;
  if (existing && !existing->rebuilt_because.empty())
    report.actions.push_back(fmt::format("rebuilt the stack's layout from its servers' own files ({}); a stack made "
                                         "from a pgstack.toml needs --config FILE again",
                                         existing->rebuilt_because));
  PostgresServer server(layout, layout.primary());
  if (auto early = server.state(); !early.running) {
    layout.primary().port = port;
    // The others follow the primary's port while they are stopped.
    if (Component* standby = layout.standby(); standby && !PostgresServer(layout, *standby).state().running)
      standby->port = config.standby_port.value_or(port + 1);
    if (!pgbouncer_state(layout).running) layout.pgbouncer.port = config.pgbouncer_port.value_or(port + 2);
    check_distinct_ports(layout);
    check_programs_and_ports(layout, early.stale_pid);
    check_free_space(layout.dir, options.min_free_bytes);
    check_folder_usable(layout.dir);
  }
  // pgstack.toml's [tune] and [<server>.settings] through PostgreSQL's own checks (after
  // the preflight has found its binaries), before anything changes.
  check_server_settings(layout, config, options.max_connections);
  // A new stack whose first up fails part-way leaves nothing behind.
  std::optional<NewStackRollback> rollback;
  if (!existing && !server.initialized()) rollback.emplace(layout);
  std::error_code ec;
  fs::create_directories(layout.dir, ec);
  if (ec) throw Error(fmt::format("cannot create {}: {}; pass --dir with a writable folder", layout.dir.string(), ec.message()));
  FolderLock lock(layout.dir);
  // Another `up` made the stack while we waited for the lock: it is not ours to undo.
  if (rollback && server.initialized()) rollback->keep();

  auto state = server.state();  // again, under the lock: another `up` may have run meanwhile
  if (state.running) {
    if (recorded_port != port)
      throw Error(fmt::format("the stack in {} is running on port {}; run pgstack down first to move it to port {}",
                              layout.dir.string(), recorded_port, port));
    layout.primary().port = recorded_port;
    report.was_running = true;
    say(options, fmt::format("postgres is already running (pid {}, port {})", state.pid, port));
    secure_folders(layout);
    // A stack made by an older pgstack is brought up to date while it runs.
    bool changed = server.write_config(server_settings(layout, layout.primary(), config, options.max_connections));
    if (changed) report.actions.push_back("rewrote " + server.config_file());
    changed = write_security_files(layout, report) || changed;
    if (changed && server.apply_config(layout.dsn(nullptr, "postgres")))
      report.actions.push_back(fmt::format("restarted postgres to apply the new settings (pid {})", server.state().pid));
  } else {
    layout.primary().port = port;
    prepare_folders(layout);
    if (!server.initialized()) {
      const auto& data = layout.primary().dir;
      if (fs::exists(data) && !fs::is_empty(data))
        throw Error(fmt::format("{} holds files but no PostgreSQL cluster; move them away or pass another --dir",
                                data.string()));
      say(options, "initdb " + data.string());
      server.initdb();
      report.initialized = true;
      report.actions.push_back(fmt::format("initialized a new cluster in {}", data.string()));
    }
    auto settings = server_settings(layout, layout.primary(), config, options.max_connections);
    if (server.write_config(settings) && !report.initialized)
      report.actions.push_back("rewrote " + server.config_file());
    write_security_files(layout, report);
    if (state.stale_pid) {
      report.recovered = true;
      report.actions.push_back("found a stale postmaster.pid (the server had crashed); restarting with crash recovery");
    }
    say(options, fmt::format("starting postgres on port {}", port));
    server.start();
    report.actions.push_back(fmt::format("started postgres on port {} (pid {}), log in {}", port, server.state().pid,
                                         layout.log_file(layout.primary()).string()));
  }

  // The stanza first: archive_command fails until it exists, and every failure stays
  // in pg_stat_archiver's failed_count (the standby's pg_basebackup completes a segment).
  say(options, "pgBackRest stanza");
  for (auto& action : ensure_stanza(layout)) report.actions.push_back(std::move(action));
  ensure_database(layout, report);
  say(options, "standby");
  auto standby_settings = [&](const Component& c) { return server_settings(layout, c, config, options.max_connections); };
  for (auto& action : ensure_standby(layout, standby_settings))
    report.actions.push_back(std::move(action));
  // Recorded as soon as the servers run: if PgBouncer or the first backup fails,
  // status, env and down still find the stack and its ports.
  save_layout(layout, report);
  say(options, "pgbouncer");
  for (auto& action : ensure_pgbouncer(layout)) report.actions.push_back(std::move(action));
  say(options, "backups");
  for (auto& action : ensure_backups(layout)) report.actions.push_back(std::move(action));

  save_layout(layout, report);
  if (rollback) rollback->keep();
  report.layout = layout;
  return report;
}

DownReport down(const DownOptions& options) {
  DownReport report;
  // A broken stack.json must not keep a stack from stopping: its servers' files say where they are.
  auto layout = ClusterLayout::load(options.dir, ClusterLayout::BrokenFile::rebuild)
                    .value_or(ClusterLayout::local(options.dir));
  if (!fs::exists(layout.dir)) {
    report.message = fmt::format("no stack in {}; nothing to stop", layout.dir.string());
    return report;
  }
  FolderLock lock(layout.dir);
  std::vector<std::string> stopped;
  // PgBouncer first, so clients see one clean disconnect instead of failing servers.
  if (stop_pgbouncer(layout)) {
    report.was_running = true;
    stopped.push_back(fmt::format("pgbouncer (port {})", layout.pgbouncer.port));
  }
  // Standbys first: a primary stopped under its standby makes the standby log errors.
  for (auto it = layout.components.rbegin(); it != layout.components.rend(); ++it) {
    const auto& c = *it;
    PostgresServer server(layout, c);
    if (!server.state().running) continue;
    server.stop();
    report.was_running = true;
    stopped.push_back(fmt::format("{} (port {})", c.name, c.port));
  }
  if (report.was_running) {
    std::string names;
    for (const auto& s : stopped) names += (names.empty() ? "" : ", ") + s;
    report.message = fmt::format("stopped {}; data kept in {}", names, layout.dir.string());
  } else {
    report.message = fmt::format("the stack in {} is not running; nothing to stop", layout.dir.string());
  }
  return report;
}

DestroyReport destroy(const fs::path& dir) {
  DestroyReport report;
  std::error_code ec;
  const auto abs = fs::absolute(dir).lexically_normal();
  if (!fs::exists(abs, ec)) {
    report.message = fmt::format("no stack in {}; nothing to remove", abs.string());
    return report;
  }
  auto layout = ClusterLayout::load(abs, ClusterLayout::BrokenFile::rebuild).value_or(ClusterLayout::local(abs));
  // Only ever a folder pgstack made: a wrong --dir must not delete someone's files.
  if (!fs::exists(layout.stack_file(), ec) && !fs::exists(layout.primary().dir / "PG_VERSION", ec))
    throw Error(fmt::format("{} does not hold a pgstack stack (no stack.json, no data/primary); nothing was removed",
                            abs.string()));
  report.existed = true;
  down({.dir = abs});
  if (pgbouncer_state(layout).running)
    throw Error(fmt::format("PgBouncer (port {}) is still running; stop it, then run pgstack destroy again; nothing "
                            "was removed",
                            layout.pgbouncer.port));
  for (const auto& c : layout.components)
    if (PostgresServer(layout, c).state().running)
      throw Error(fmt::format("the {} (port {}) is still running; stop it, then run pgstack destroy again; nothing "
                              "was removed",
                              c.name, c.port));
  fs::remove_all(abs, ec);
  if (ec) throw Error(fmt::format("cannot remove {}: {}", abs.string(), ec.message()));
  report.message = fmt::format("removed the stack in {} and all its data", abs.string());
  return report;
}

StackStatus status(const fs::path& dir) {
  StackStatus out;
  auto layout = ClusterLayout::load(dir);
  if (!layout) {
    auto guess = ClusterLayout::local(dir);
    if (!fs::exists(guess.primary().dir / "PG_VERSION")) return out;
    layout = guess;
  }
  out.exists = true;
  out.running = true;
  for (const auto& c : layout->components) {
    auto st = PostgresServer(*layout, c).state();
    out.components.push_back(
        {.name = c.name, .role = c.role, .port = c.port, .running = st.running, .pid = st.pid, .stale_pid = st.stale_pid});
    out.running = out.running && st.running;
  }
  if (layout->pgbouncer.enabled) {
    auto st = pgbouncer_state(*layout);
    out.components.push_back({.name = "pgbouncer",
                              .role = Role::pooler,
                              .port = layout->pgbouncer.port,
                              .running = st.running,
                              .pid = st.pid,
                              .stale_pid = st.stale_pid});
    out.running = out.running && st.running;
  }
  out.layout = std::move(layout);
  return out;
}

}  // namespace pgstack::stack

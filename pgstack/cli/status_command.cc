// pgstack status [--dir .pgstack] [--json]: every component of the local stack (up or
// down, pid, port, role) and replication as the primary sees it (state, lag in bytes
// and seconds, slots), PgBouncer's pools, the last backup and WAL archiving (pgBackRest).
// Exits 1 when the stack is missing or any component is down, so scripts can wait on it.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/ops/stack/backup.h"
#include "pgstack/ops/stack/pgbouncer.h"
#include "pgstack/ops/stack/replication.h"
#include "pgstack/ops/stack/stack.h"

namespace pgstack::cli {
namespace {

struct StatusArgs {
  std::string dir = stack::kDefaultDir;
  bool json = false;
};

struct Replication {
  std::vector<stack::ReplicaStatus> replicas;
  std::vector<stack::SlotStatus> slots;
  std::string error;  // why it could not be read
};

Replication read_replication(const stack::StackStatus& st) {
  Replication out;
  for (const auto& c : st.components)
    if (c.role == stack::Role::primary && !c.running) return out;
  try {
    pg::Connection primary(pg::ConnectOptions{.dsn = st.layout->dsn(nullptr, "postgres"),
                                              .connect_timeout = std::chrono::seconds(3)});
    out.replicas = stack::replicas(primary);
    out.slots = stack::replication_slots(primary);
  } catch (const pgstack::Error& e) {
    out.error = e.what();
  }
  return out;
}

// The newest backup (pgbackrest info) and WAL archiving (pg_stat_archiver on the primary).
struct Backups {
  std::optional<stack::BackupInfo> last;
  std::size_t count = 0;
  std::optional<stack::ArchiveStatus> archiving;  // unset while the primary is down
  std::string error;                                 // why they could not be read
};

Backups read_backups(const stack::StackStatus& st) {
  Backups out;
  try {
    auto list = stack::list_backups(*st.layout);  // the repository only: also with the stack down
    out.count = list.size();
    if (!list.empty()) out.last = list.back();
    for (const auto& c : st.components)
      if (c.role == stack::Role::primary && !c.running) return out;
    pg::Connection primary(pg::ConnectOptions{.dsn = st.layout->dsn(nullptr, "postgres"),
                                              .connect_timeout = std::chrono::seconds(3)});
    out.archiving = stack::archive_status(primary);
  } catch (const pgstack::Error& e) {
    out.error = e.what();
  }
  return out;
}

nlohmann::json backups_json(const Backups& b) {
  nlohmann::json doc = {{"count", b.count}, {"last", nullptr}, {"archiving", nullptr}};
  if (b.last)
    doc["last"] = {{"label", b.last->label},
                   {"type", stack::to_string(b.last->type)},
                   {"stop", utc_text(b.last->stop)},
                   {"size", b.last->size},
                   {"repo_size", b.last->repo_size},
                   {"repo_delta", b.last->repo_delta}};
  if (b.archiving) {
    const auto& a = *b.archiving;
    auto text_or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
    doc["archiving"] = {{"archived_count", a.archived_count},
                        {"last_archived_wal", text_or_null(a.last_archived_wal)},
                        {"last_archived_time", text_or_null(utc_text(a.last_archived_time))},
                        {"failed_count", a.failed_count},
                        {"last_failed_wal", text_or_null(a.last_failed_wal)},
                        {"last_failed_time", text_or_null(utc_text(a.last_failed_time))}};
  }
  if (!b.error.empty()) doc["error"] = b.error;
  return doc;
}

void print_backups(const Backups& b) {
  if (!b.error.empty()) std::cout << fmt::format("backups: cannot read them: {}\n", b.error);
  if (b.last)
    std::cout << fmt::format("backup: last {} {} finished {}, {} bytes ({} stored); {} in the repository\n",
                             stack::to_string(b.last->type), b.last->label, utc_text(b.last->stop), b.last->size,
                             b.last->repo_delta, b.count);
  else if (b.error.empty())
    std::cout << "backup: none yet; run `pgstack backup full`\n";
  if (!b.archiving) return;
  const auto& a = *b.archiving;
  std::cout << fmt::format("archiving: {} WAL segments archived{}; {} failed{}\n", a.archived_count,
                           a.last_archived_wal.empty()
                               ? std::string()
                               : fmt::format(", last {} at {}", a.last_archived_wal, utc_text(a.last_archived_time)),
                           a.failed_count,
                           a.last_failed_wal.empty()
                               ? std::string()
                               : fmt::format(", last failure {} at {}", a.last_failed_wal, utc_text(a.last_failed_time)));
}

nlohmann::json to_json(const stack::StackStatus& st, const Replication& rep) {
  nlohmann::json components = nlohmann::json::array();
  for (const auto& c : st.components)
    components.push_back({{"name", c.name},
                          {"role", stack::to_string(c.role)},
                          {"port", c.port},
                          {"running", c.running},
                          {"pid", c.pid},
                          {"crashed", c.stale_pid}});
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& r : rep.replicas)
    replicas.push_back({{"name", r.name},
                        {"state", r.state},
                        {"sync_state", r.sync_state},
                        {"lag_bytes", r.lag_bytes},
                        {"lag_seconds", r.lag_seconds}});
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& s : rep.slots)
    slots.push_back({{"name", s.name}, {"active", s.active}, {"retained_bytes", s.retained_bytes}});
  nlohmann::json doc = {{"dir", st.layout->dir.string()},
                        {"running", st.running},
                        {"components", components},
                        {"replication", replicas},
                        {"slots", slots}};
  if (!rep.error.empty()) doc["replication_error"] = rep.error;
  return doc;
}

void print_text(const stack::StackStatus& st, const Replication& rep) {
  std::cout << fmt::format("stack in {}\n", st.layout->dir.string());
  std::cout << fmt::format("  {:<10} {:<8} {:<6} {:<8} {}\n", "component", "role", "port", "pid", "state");
  for (const auto& c : st.components)
    std::cout << fmt::format("  {:<10} {:<8} {:<6} {:<8} {}\n", c.name, stack::to_string(c.role), c.port,
                             c.running ? std::to_string(c.pid) : "-",
                             c.running ? "up" : (c.stale_pid ? "down (crashed)" : "down"));
  if (!rep.error.empty()) std::cout << fmt::format("replication: cannot read it: {}\n", rep.error);
  for (const auto& r : rep.replicas)
    std::cout << fmt::format("replication: {} {} ({}), {} bytes and {:.3f} s behind\n", r.name, r.state, r.sync_state,
                             r.lag_bytes, r.lag_seconds);
  for (const auto& s : rep.slots)
    std::cout << fmt::format("slot {}: {}, holding {} bytes of WAL\n", s.name, s.active ? "active" : "INACTIVE",
                             s.retained_bytes);
}

struct Pools {
  std::vector<stack::PoolStatus> pools;
  std::string error;  // why they could not be read
};

Pools read_pools(const stack::StackStatus& st) {
  Pools out;
  if (!st.layout->pgbouncer.enabled) return out;
  for (const auto& c : st.components)
    if (c.role == stack::Role::pooler && !c.running) return out;
  try {
    out.pools = stack::pgbouncer_pools(*st.layout);
  } catch (const pgstack::Error& e) {
    out.error = e.what();
  }
  return out;
}

nlohmann::json pools_json(const Pools& p) {
  nlohmann::json pools = nlohmann::json::array();
  for (const auto& pool : p.pools)
    pools.push_back({{"database", pool.database},
                     {"user", pool.user},
                     {"clients_active", pool.clients_active},
                     {"clients_waiting", pool.clients_waiting},
                     {"servers_active", pool.servers_active},
                     {"servers_idle", pool.servers_idle},
                     {"servers_used", pool.servers_used},
                     {"max_wait_seconds", pool.max_wait_seconds},
                     {"pool_mode", pool.pool_mode}});
  return pools;
}

void print_pools(const Pools& p) {
  if (!p.error.empty()) std::cout << fmt::format("pgbouncer pools: cannot read them: {}\n", p.error);
  for (const auto& pool : p.pools)
    std::cout << fmt::format(
        "pool {}/{} ({}): clients {} active, {} waiting{}; servers {} active, {} idle, {} used\n", pool.database,
        pool.user, pool.pool_mode, pool.clients_active, pool.clients_waiting,
        pool.clients_waiting > 0 ? fmt::format(" (oldest {} s)", pool.max_wait_seconds) : std::string(),
        pool.servers_active, pool.servers_idle, pool.servers_used);
}

void run_status(const StatusArgs& args) {
  set_command("pgstack status");
  auto st = stack::status(args.dir);
  if (!st.exists || !st.layout)
    throw pgstack::Error(fmt::format("no stack in {}; run `pgstack up{}` to make one", args.dir,
                                     args.dir == stack::kDefaultDir ? "" : " --dir " + args.dir));
  auto rep = read_replication(st);
  auto backups = read_backups(st);
  auto pools = read_pools(st);
  if (args.json) {
    auto doc = to_json(st, rep);
    doc["pgbouncer_pools"] = pools_json(pools);
    if (!pools.error.empty()) doc["pgbouncer_error"] = pools.error;
    doc["backups"] = backups_json(backups);
    print_json(doc);
  } else {
    print_text(st, rep);
    print_pools(pools);
    print_backups(backups);
  }
  std::string down;
  for (const auto& c : st.components)
    if (!c.running) down += (down.empty() ? "" : ", ") + c.name;
  if (!down.empty()) throw pgstack::Error(fmt::format("down: {}; run `pgstack up` to start it", down));
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto args = std::make_shared<StatusArgs>();
  auto* cmd = app.add_subcommand("status", "Show every component of the local stack and its replication; exit 1 if any is down");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print as JSON");
  cmd->callback([args] { run_status(*args); });
}

}  // namespace pgstack::cli

#include "pgstack/ops/doctor/doctor.h"

#include <chrono>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "pgstack/ops/stack/backup.h"
#include "pgstack/ops/stack/pgbouncer.h"
#include "pgstack/ops/stack/stack.h"
#include "pgstack/ops/doctor/checks.h"
#include "pgstack/pg/connection.h"

namespace pgstack::doctor {
namespace {

// A server's identity for the rate state (the cluster, whether it is the standby, its port
// and the database: a standby shares the primary's system identifier), and the server's
// time now, which the counters read next are taken at.
std::pair<std::string, double> state_key_and_time(pg::Connection& conn) {
  auto rows = conn.query(
      "SELECT (SELECT system_identifier::text FROM pg_control_system()) || ':' || pg_is_in_recovery()::text || ':' "
      "|| current_setting('port') || ':' || current_database(), extract(epoch FROM now())::float8");
  return {rows[0].get<std::string>(0), rows[0].get<double>(1)};
}

void check_one_server(const std::string& server, const std::string& dsn, const std::string& unreachable_fix,
                      const DoctorOptions& options, RateState& state, Report& report) {
  std::optional<pg::Connection> conn;
  try {
    conn.emplace(pg::ConnectOptions{.dsn = dsn, .connect_timeout = std::chrono::seconds(5),
                                    .statement_cache = false, .application_name = "pgstack doctor"});
  } catch (const pgstack::Error& e) {
    report.ran(server, "reachable");
    report.add({Severity::critical, "unreachable", server, "server " + pg::redact_dsn(dsn),
                fmt::format("cannot connect: {}", e.what()), "nothing can read or write through it", unreachable_fix});
    return;
  }
  CheckContext ctx{*conn, server, options.thresholds, report};
  std::string key;
  try {
    std::tie(key, ctx.counters.at) = state_key_and_time(*conn);
    ctx.baseline = state.baseline(key, ctx.counters.at, options.thresholds.rate_window_seconds);
  } catch (const pgstack::Error&) {
    // pg_control_system() needs pg_monitor; without it rates are measured since the reset.
  }
  try {
    check_server(ctx);
  } catch (const pg::ConnectionError& e) {
    report.add({Severity::critical, "unreachable", server, "server " + pg::redact_dsn(dsn),
                fmt::format("the connection was lost during the checks: {}", e.what()),
                "the checks after it did not run", unreachable_fix});
    return;
  }
  if (!key.empty()) state.record(key, ctx.counters, options.thresholds.rate_window_seconds);
}

void check_components(const stack::StackStatus& st, Report& report) {
  for (const auto& c : st.components) {
    report.ran(c.name, "running");
    if (c.running) continue;
    std::string why = c.role == stack::Role::primary   ? "the application cannot read or write"
                      : c.role == stack::Role::standby ? "there is no hot standby to fail over to, and the primary "
                                                           "keeps WAL for it in its slot until it returns"
                                                         : "clients that connect through PgBouncer cannot connect";
    report.add({Severity::critical, "component_down", c.name, c.name,
                fmt::format("is not running{}", c.stale_pid ? " (it crashed: a stale pid file is left)" : ""), why,
                "pgstack up  (then pgstack status)"});
  }
}

void check_backups(const stack::ClusterLayout& layout, const Thresholds& t, Report& report) {
  report.ran("backups", "backup_age");
  std::vector<stack::BackupInfo> backups;
  try {
    backups = stack::list_backups(layout);
  } catch (const pgstack::Error& e) {
    report.add({Severity::critical, "backup_age", "backups", "repository", fmt::format("cannot be read: {}", e.what()),
                "without a readable repository there is nothing to restore from", "pgstack backup list; pgstack up"});
    return;
  }
  if (backups.empty()) {
    report.add({Severity::critical, "backup_age", "backups", "repository", "holds no backup",
                "a lost disk or a dropped table cannot be recovered", "pgstack backup full"});
    return;
  }
  double hours = std::chrono::duration<double>(std::chrono::system_clock::now() - backups.back().stop).count() / 3600;
  if (hours <= t.backup_max_age_hours) return;
  report.add({Severity::warning, "backup_age", "backups", "backup " + backups.back().label,
              fmt::format("the newest backup finished {} ago; the policy is one at least every {} hours",
                          seconds_text(hours * 3600), t.backup_max_age_hours),
              "a restore must replay every WAL segment since it: slower, and one bad segment away from failing",
              "pgstack backup diff  (schedule it daily, pgstack backup full weekly: docs/stack.md)"});
}

void check_pgbouncer(const stack::ClusterLayout& layout, Report& report) {
  report.ran("pgbouncer", "pgbouncer_waiting");
  std::vector<stack::PoolStatus> pools;
  try {
    pools = stack::pgbouncer_pools(layout);
  } catch (const pgstack::Error& e) {
    report.add({Severity::warning, "pgbouncer_waiting", "pgbouncer", "admin console",
                fmt::format("cannot be read: {}", e.what()), "pool waits are unknown", "pgstack status"});
    return;
  }
  for (const auto& p : pools) {
    if (p.clients_waiting == 0) continue;
    report.add({Severity::warning, "pgbouncer_waiting", "pgbouncer", fmt::format("pool {}/{}", p.database, p.user),
                fmt::format("{} clients wait for a server connection (the oldest for {} s); {} active, {} idle servers",
                            p.clients_waiting, p.max_wait_seconds, p.servers_active, p.servers_idle),
                "every waiting client's query is delayed by the wait: the pool is too small for the load, or "
                "transactions hold connections too long",
                "look for long or idle-in-transaction sessions (pgstack top); then raise default_pool_size in "
                "pgstack.toml [pgbouncer] and run pgstack up"});
  }
}

}  // namespace

Report run_doctor(const DoctorOptions& options) {
  Report report;
  RateState state = options.state_file.empty() ? RateState() : RateState(options.state_file);
  if (options.dsn) {
    pg::validate_dsn(*options.dsn);
    check_one_server("server", *options.dsn, "check the URL, that the server runs and accepts you (pg_hba.conf)",
                     options, state, report);
  } else {
    auto st = stack::status(options.dir);
    if (!st.exists || !st.layout)
      throw Error(fmt::format("there is no stack in {}; pass --dir with the stack's folder, or --db "
                              "with a database URL",
                              options.dir.string()));
    const auto& layout = *st.layout;
    check_components(st, report);
    for (const auto& s : st.components) {
      if (!s.running || s.role == stack::Role::pooler) continue;
      for (const auto& c : layout.components)
        if (c.name == s.name) check_one_server(c.name, layout.dsn(&c), "pgstack up", options, state, report);
    }
    if (layout.pgbouncer.enabled && stack::pgbouncer_state(layout).running) check_pgbouncer(layout, report);
    check_backups(layout, options.thresholds, report);
  }
  state.save();
  return report;
}

}  // namespace pgstack::doctor

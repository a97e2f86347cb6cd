#include <cmath>

#include <fmt/format.h>

#include "pgstack/ops/doctor/checks.h"

namespace pgstack::doctor {

void run_check(CheckContext& ctx, const char* name, const Check& check) {
  ctx.report.ran(ctx.server, name);
  try {
    check(ctx);
  } catch (const pg::ConnectionError&) {
    throw;
  } catch (const pg::SqlError& e) {
    // Only a missing privilege is the caller's to fix; anything else is pgstack's bug.
    const bool privilege = e.sqlstate() == "42501";
    ctx.add(privilege ? Severity::info : Severity::warning, name, "check", fmt::format("could not run: {}", e.what()),
            "this check's condition is unknown; the other checks ran",
            privilege ? "run doctor as the stack's superuser, or grant the role what it reads: GRANT pg_monitor, "
                        "readonly TO <role>"
                      : "this is a bug in pgstack's check: report it with this message (pgstack version --json)");
  } catch (const pgstack::Error& e) {
    ctx.add(Severity::warning, name, "check", fmt::format("could not run: {}", e.what()),
            "this check's condition is unknown; the other checks ran",
            "this is a bug in pgstack's check: report it with this message (pgstack version --json)");
  }
}

void check_server(CheckContext& ctx) {
  auto row_rows = ctx.conn.query("SELECT pg_is_in_recovery(), current_database()::text, extract(epoch FROM now())::float8");
  auto row = row_rows[0];
  ctx.in_recovery = row.get<bool>(0);
  ctx.database = row.get<std::string>(1);
  if (ctx.counters.at == 0) ctx.counters.at = row.get<double>(2);  // the caller may have read it with the baseline
  const std::pair<const char*, void (*)(CheckContext&)> checks[] = {
      {"cache_hit_ratio", check_cache_hit_ratio},
      {"replication_lag", check_replication_lag},
      {"dead_tuples", check_dead_tuples},
      {"idle_in_transaction", check_idle_in_transaction},
      {"connections", check_connections},
      {"requested_checkpoints", check_requested_checkpoints},
      {"long_query", check_long_queries},
      {"xid_wraparound", check_wraparound},
      {"sequence_used", check_sequences},
      {"invalid_index", check_invalid_indexes},
      {"invalid_constraint", check_invalid_constraints},
      {"duplicate_index", check_duplicate_indexes},
      {"unused_index", check_unused_indexes},
      {"inactive_slot", check_replication_slots},
      {"vacuum_overdue", check_vacuum_overdue},
      {"archiving_failing", check_archiving},
      {"slow_statement", check_slow_statements},
  };
  for (const auto& [name, check] : checks) run_check(ctx, name, check);
  check_capabilities(ctx);
}

std::string percent(double ratio) { return fmt::format("{:.1f}%", ratio * 100); }

std::string seconds_text(double s) {
  if (s < 10) return fmt::format("{:.1f} s", s);
  auto whole = static_cast<long>(std::llround(s));
  if (whole < 120) return fmt::format("{} s", whole);
  if (whole < 7200) return fmt::format("{}m {:02}s", whole / 60, whole % 60);
  if (whole < 172800) return fmt::format("{}h {:02}m", whole / 3600, whole / 60 % 60);
  return fmt::format("{} days", whole / 86400);
}

std::string bytes_text(double b) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return u == 0 ? fmt::format("{:.0f} bytes", b) : fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace pgstack::doctor

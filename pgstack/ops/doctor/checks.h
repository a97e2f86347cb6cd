// The checks doctor runs against one server, grouped by where they come from: the six
// alerts (alert_checks.cc), PgHero's health checks (health_checks.cc) and the registered
// capabilities' own, which are SQL (capability_checks.cc). Each adds Findings through its CheckContext; a check
// that cannot run (no privilege, a missing extension) says so as a note and the rest go on.
//
//   CheckContext ctx{conn, "primary", thresholds, report};
//   run_check(ctx, "dead_tuples", check_dead_tuples);
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "pgstack/ops/doctor/finding.h"
#include "pgstack/ops/doctor/rate_state.h"
#include "pgstack/ops/doctor/thresholds.h"
#include "pgstack/pg/connection.h"

namespace pgstack::doctor {

struct CheckContext {
  pg::Connection& conn;
  std::string server;
  const Thresholds& t;
  Report& report;
  bool in_recovery = false;
  std::string database;                     // the database connected to
  std::optional<ServerCounters> baseline;   // counters of an earlier run, for rates
  ServerCounters counters;                  // read now, recorded for the next run

  void add(Severity severity, std::string check, std::string subject, std::string what, std::string why,
           std::string fix) {
    report.add({severity, std::move(check), server, std::move(subject), std::move(what), std::move(why), std::move(fix)});
  }
};

using Check = std::function<void(CheckContext&)>;

// Runs check, recording that it ran; an error becomes an info finding naming the check.
void run_check(CheckContext& ctx, const char* name, const Check& check);

// The six alerts.
void check_cache_hit_ratio(CheckContext& ctx);
void check_replication_lag(CheckContext& ctx);
void check_dead_tuples(CheckContext& ctx);
void check_idle_in_transaction(CheckContext& ctx);
void check_connections(CheckContext& ctx);
void check_requested_checkpoints(CheckContext& ctx);

// PgHero's checks.
void check_long_queries(CheckContext& ctx);
void check_wraparound(CheckContext& ctx);
void check_sequences(CheckContext& ctx);
void check_invalid_indexes(CheckContext& ctx);
void check_invalid_constraints(CheckContext& ctx);
void check_duplicate_indexes(CheckContext& ctx);
void check_unused_indexes(CheckContext& ctx);
void check_replication_slots(CheckContext& ctx);
void check_vacuum_overdue(CheckContext& ctx);
void check_archiving(CheckContext& ctx);
void check_slow_statements(CheckContext& ctx);

// Every installed capability's pgstack.<name>_health(), each as a check of its own.
void check_capabilities(CheckContext& ctx);

// Every check above that applies to the server, in order.
void check_server(CheckContext& ctx);

// Words for figures: "81.2%", "2m 05s", "1.4 GiB".
std::string percent(double ratio);
std::string seconds_text(double seconds);
std::string bytes_text(double bytes);

}  // namespace pgstack::doctor

// What doctor reports: findings, each with its severity, what was measured, why it
// matters and the command or SQL that fixes it; and the report's exit status
// (0 healthy, 1 warnings, 3 critical findings), for cron jobs and CI.
//
//   Report report;
//   report.add({.severity = Severity::warning, .check = "dead_tuples", .server = "primary",
//               .subject = "table public.orders", .what = "...", .why = "...", .fix = "VACUUM ..."});
//   return report.exit_code();
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgstack::doctor {

// info: worth knowing, changes nothing (exit 0). warning: act soon (exit 1).
// critical: act now, the stack is down or losing safety (exit 3).
enum class Severity { info, warning, critical };
const char* to_string(Severity s);

inline constexpr int kExitHealthy = 0;
inline constexpr int kExitWarnings = 1;
inline constexpr int kExitCritical = 3;

struct Finding {
  Severity severity = Severity::warning;
  std::string check;    // a stable name: "cache_hit_ratio", "dead_tuples", ...
  std::string server;   // "primary", "standby", "pgbouncer", "backups", or the --db server
  std::string subject;  // what it is about: "database app", "table public.orders"
  std::string what;     // the measurement against its threshold
  std::string why;      // what goes wrong if it is left
  std::string fix;      // a command or SQL that fixes it
};

struct CheckRun {
  std::string server;
  std::string check;
};

struct Report {
  std::vector<Finding> findings;
  std::vector<CheckRun> checks;  // every check that ran, found something or not

  void add(Finding f) { findings.push_back(std::move(f)); }
  void ran(const std::string& server, const std::string& check) { checks.push_back({server, check}); }
  // True when a finding of this check (on this server, when given) is present.
  bool has(const std::string& check, const std::string& server = {}) const;
  Severity worst() const;
  int exit_code() const;  // kExitHealthy, kExitWarnings or kExitCritical
  nlohmann::json to_json() const;
  std::string to_text() const;  // for a terminal: findings worst first, then a summary
};

}  // namespace pgstack::doctor

// pgstack doctor: every health check against one database server (--db) or the whole
// local stack (its primary and standby, PgBouncer, backups), as a Report of findings.
// Every check that applies runs even when others fail; a server doctor cannot reach
// is itself a critical finding.
//
//   auto report = pgstack::doctor::run_doctor({.dsn = "postgresql://postgres@localhost/app"});
//   std::cout << report.to_text();
//   return report.exit_code();   // 0 healthy, 1 warnings, 3 critical
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "pgstack/ops/doctor/finding.h"
#include "pgstack/ops/doctor/thresholds.h"

namespace pgstack::doctor {

struct DoctorOptions {
  std::optional<std::string> dsn;  // one server; unset: the stack in dir
  std::filesystem::path dir = ".pgstack";
  Thresholds thresholds;
  // Where rates are remembered between runs (rate_state.h); empty: no memory, rates are
  // then measured since the statistics were reset.
  std::filesystem::path state_file;
};

Report run_doctor(const DoctorOptions& options);

}  // namespace pgstack::doctor

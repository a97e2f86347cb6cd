// The extensions `pgstack up` creates in the application's database: pg_stat_statements,
// pg_trgm, pgcrypto, pg_cron, pg_partman (in its own schema `partman`) and postgis when
// its package is installed. Each only when missing.
//
//   pgstack::pg::Connection conn(layout.dsn());
//   for (auto& line : pgstack::stack::ensure_extensions(conn)) report.actions.push_back(line);
#pragma once

#include <string>
#include <vector>

#include "pgstack/pg/connection.h"

namespace pgstack::stack {

struct StackExtension {
  std::string name;
  std::string schema;     // empty: the default (public)
  bool optional = false;  // skipped when its package is not installed
};

const std::vector<StackExtension>& stack_extensions();

// Creates the missing ones; returns what it did ("created extension pg_trgm"). A required
// extension whose package is missing throws pgstack::Error naming the package.
std::vector<std::string> ensure_extensions(pg::Connection& conn);

}  // namespace pgstack::stack

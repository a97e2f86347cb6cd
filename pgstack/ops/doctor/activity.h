// What the server is doing, for `pgstack top`: the statements that take the time (from
// pg_stat_statements, read and never reset), the queries running now, and who blocks
// whom. A database without pg_stat_statements still shows live queries and locks.
//
//   auto a = pgstack::doctor::read_activity(conn, {.limit = 10});
//   for (const auto& s : a.by_total_time) ...;
//   for (const auto& root : a.blocking_roots()) ...;
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgstack/pg/connection.h"

namespace pgstack::doctor {

struct StatementStat {
  std::string queryid;
  std::string database;
  std::int64_t calls = 0;
  double total_ms = 0;
  double mean_ms = 0;
  std::int64_t rows = 0;
  double share = 0;  // of all statements' execution time
  std::string query;
};

struct LiveQuery {
  int pid = 0;
  std::string user, database, application, state, wait;  // wait: "Lock:transactionid", "" when running
  double seconds = 0;  // since the query (or, idle in transaction, the transaction's last statement) began
  std::string query;
  std::vector<int> blocked_by;  // pg_blocking_pids
};

struct Activity {
  std::vector<StatementStat> by_total_time;
  std::vector<StatementStat> by_mean_time;
  std::string statements_unavailable;  // why there are none: the hint when pg_stat_statements is missing
  std::vector<LiveQuery> live;         // sessions not idle, longest first
  // Sessions that block others and are not blocked themselves: the tree's roots.
  std::vector<int> blocking_roots() const;
  // Sessions pid blocks directly.
  std::vector<int> blocked_by(int pid) const;
  const LiveQuery* find(int pid) const;
  nlohmann::json to_json() const;
};

struct ActivityOptions {
  int limit = 10;
  std::int64_t min_calls = 1;  // statements called fewer times are left out of the mean-time list
};

Activity read_activity(pg::Connection& conn, const ActivityOptions& options = {});

}  // namespace pgstack::doctor

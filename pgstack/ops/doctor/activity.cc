#include "pgstack/ops/doctor/activity.h"

#include <algorithm>
#include <functional>
#include <set>

#include "pgstack/ops/doctor/server_facts.h"

namespace pgstack::doctor {
namespace {

std::vector<StatementStat> read_statements(pg::Connection& conn, const std::string& view, const char* order,
                                           const ActivityOptions& o) {
  auto rows = conn.query(
      std::string("WITH s AS (SELECT * FROM ") + view + "), all_time AS (SELECT sum(total_exec_time) AS t FROM s) "
      "SELECT s.queryid::text, coalesce(d.datname::text, ''), s.calls, s.total_exec_time, s.mean_exec_time, s.rows, "
      "       coalesce(s.total_exec_time / nullif((SELECT t FROM all_time), 0), 0)::float8, "
      "       regexp_replace(s.query, '\\s+', ' ', 'g') "
      "FROM s LEFT JOIN pg_database d ON d.oid = s.dbid WHERE s.calls >= $1 ORDER BY " + order + " DESC LIMIT $2",
      o.min_calls, o.limit);
  std::vector<StatementStat> out;
  for (auto row : rows)
    out.push_back({row.get<std::string>(0), row.get<std::string>(1), row.get<std::int64_t>(2), row.get<double>(3),
                   row.get<double>(4), row.get<std::int64_t>(5), row.get<double>(6), row.get<std::string>(7)});
  return out;
}

}  // namespace

Activity read_activity(pg::Connection& conn, const ActivityOptions& o) {
  Activity a;
  auto view = statements_view(conn);
  if (!view) {
    a.statements_unavailable =
        "pg_stat_statements is not installed in this database: CREATE EXTENSION pg_stat_statements; (it also needs "
        "shared_preload_libraries = 'pg_stat_statements'; a stack made by pgstack up has both)";
  } else {
    try {
      a.by_total_time = read_statements(conn, *view, "s.total_exec_time", o);
      a.by_mean_time = read_statements(conn, *view, "s.mean_exec_time", o);
    } catch (const pg::SqlError& e) {
      if (e.sqlstate() != "55000") throw;
      a.statements_unavailable =
          "pg_stat_statements is installed but not loaded: add it to shared_preload_libraries and restart";
    }
  }
  auto rows = conn.query(
      "SELECT pid, coalesce(usename::text, ''), coalesce(datname::text, ''), coalesce(application_name, ''), "
      "       coalesce(state, ''), coalesce(wait_event_type || ':' || wait_event, ''), "
      "       coalesce(extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start ELSE state_change END), 0)::float8, "
      "       regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), pg_blocking_pids(pid) "
      "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
      "  AND state IS DISTINCT FROM 'idle' ORDER BY 7 DESC");
  for (auto row : rows) {
    LiveQuery q{row.get<std::int32_t>(0), row.get<std::string>(1), row.get<std::string>(2), row.get<std::string>(3),
                row.get<std::string>(4), row.get<std::string>(5), row.get<double>(6), row.get<std::string>(7), {}};
    for (auto pid : row.get<std::vector<std::int32_t>>(8)) q.blocked_by.push_back(pid);
    a.live.push_back(std::move(q));
  }
  return a;
}

const LiveQuery* Activity::find(int pid) const {
  for (const auto& q : live)
    if (q.pid == pid) return &q;
  return nullptr;
}

std::vector<int> Activity::blocked_by(int pid) const {
  std::vector<int> out;
  for (const auto& q : live)
    if (std::find(q.blocked_by.begin(), q.blocked_by.end(), pid) != q.blocked_by.end()) out.push_back(q.pid);
  return out;
}

std::vector<int> Activity::blocking_roots() const {
  std::set<int> blockers;
  for (const auto& q : live) blockers.insert(q.blocked_by.begin(), q.blocked_by.end());
  std::vector<int> roots;
  for (int pid : blockers) {
    const auto* q = find(pid);
    if (!q || q->blocked_by.empty()) roots.push_back(pid);  // a blocker that waits on nobody (or is idle)
  }
  // A cycle (a deadlock about to be broken) has no root: start from its lowest pid.
  if (roots.empty() && !blockers.empty()) roots.push_back(*blockers.begin());
  return roots;
}

nlohmann::json Activity::to_json() const {
  auto statements = [](const std::vector<StatementStat>& list) {
    auto out = nlohmann::json::array();
    for (const auto& s : list)
      out.push_back({{"queryid", s.queryid}, {"database", s.database}, {"calls", s.calls}, {"total_ms", s.total_ms},
                     {"mean_ms", s.mean_ms}, {"rows", s.rows}, {"share", s.share}, {"query", s.query}});
    return out;
  };
  nlohmann::json doc = {{"by_total_time", statements(by_total_time)}, {"by_mean_time", statements(by_mean_time)}};
  doc["statements_unavailable"] = statements_unavailable.empty() ? nlohmann::json(nullptr) : nlohmann::json(statements_unavailable);
  auto& live_json = doc["live"] = nlohmann::json::array();
  for (const auto& q : live)
    live_json.push_back({{"pid", q.pid}, {"user", q.user}, {"database", q.database}, {"application", q.application},
                         {"state", q.state}, {"wait", q.wait}, {"seconds", q.seconds}, {"query", q.query},
                         {"blocked_by", q.blocked_by}});
  std::function<nlohmann::json(int, std::set<int>&)> node = [&](int pid, std::set<int>& seen) {
    nlohmann::json n = {{"pid", pid}, {"blocks", nlohmann::json::array()}};
    if (!seen.insert(pid).second) return n;
    for (int child : blocked_by(pid)) n["blocks"].push_back(node(child, seen));
    return n;
  };
  auto& tree = doc["blocking"] = nlohmann::json::array();
  std::set<int> seen;
  for (int root : blocking_roots()) tree.push_back(node(root, seen));
  return doc;
}

}  // namespace pgstack::doctor

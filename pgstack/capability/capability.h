// A capability is one workload pgstack offers instead of another system (the job queue
// instead of a broker, kv instead of Redis, ...), as the ops layers see it. cli, doctor,
// metrics and advise iterate over capabilities() and name no workload themselves.
//
// A capability's folder holds everything about it and registers it once, in its
// CMakeLists.txt (cmake/pgstack.cmake, pgstack_capability):
//
//   pgstack_capability(kv LIBRARY pgstack_kv SQL_DIR sql DEPENDS core COMMANDS pgstack_kv_commands)
//
// which embeds its SQL module and makes `pgstack::kv::capability()` (this struct) and,
// with COMMANDS, `pgstack::kv::add_commands(CLI::App&)` (its `pgstack kv ...` group) part
// of every pgstack binary. What doctor, metrics and advise read is SQL, so any tool can
// call it; a capability defines those it has (docs/architecture.md, "The capability
// contract"):
//
//   pgstack.<name>_health(thresholds jsonb) -> (check_name, severity, subject, what, why, fix)
//   pgstack.<name>_metrics()                -> (family, type, help, labels jsonb, value)
//   pgstack.<name>_usage()                  -> jsonb counters, read twice by advise, and
//   pgstack.<name>_advice(before jsonb, after jsonb, seconds float8) -> SETOF pgstack.advice_evidence
//
//   for (const auto& c : pgstack::capability::capabilities())
//     if (pgstack::capability::installed(conn, c)) std::cout << c.name << " is installed\n";
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgstack/base/exposition.h"

namespace pgstack::pg {
class Connection;
}

namespace pgstack::capability {

// A key of pgstack.toml's [doctor] table that the capability's health checks read,
// passed to pgstack.<name>_health() with the others. Its SQL function falls back to
// the same default when called without it.
struct Threshold {
  std::string key;  // "job_oldest_available_seconds"
  double value = 0;  // the default
  double min = 0;
  double max = 0;
  bool integer = false;  // a count: whole numbers only
};

struct Capability {
  std::string name;    // "jobs": its SQL module, its `pgstack <name>` commands, pgstack.<name>_*()
  std::string title;   // "the job queue": how messages name it
  std::string marker;  // "pgstack.job_queues": a relation that exists once the module is installed
  std::vector<Threshold> thresholds;
};

// Every registered capability, in registration order (made by the build from the
// pgstack_capability() calls: builtin_capabilities.cc).
const std::vector<Capability>& capabilities();

// The registered capability of that name; throws pgstack::UsageError for another name.
const Capability& find(std::string_view name);

// The thresholds of every registered capability, in registration order.
std::vector<Threshold> all_thresholds();

// True when the capability's SQL module is installed in conn's database. Reads the
// catalog, so a role without USAGE on schema pgstack (a monitoring role) gets false,
// not "permission denied".
bool installed(pg::Connection& conn, const Capability& capability);

// The SQL contract functions (pgstack.<name>_health, ...) the database has, as
// "<name>_health" etc.: a capability installed at an older version may lack some.
std::vector<std::string> contract_functions(pg::Connection& conn);

// Adds the samples of pgstack.<name>_metrics() to out, each labelled with labels first
// and then the row's own: the families are the capability's (type and help from its
// rows), so every reader (pgstack metrics, a capability's own C++ exporter) renders
// the same text. Throws pg::Error when the function is missing or fails.
void collect_metrics(pg::Connection& conn, const Capability& capability, const Labels& labels, Exposition& out);

}  // namespace pgstack::capability

// The registered capabilities' health checks (capability.h): doctor calls each installed
// capability's pgstack.<name>_health(thresholds) and reports its rows as findings. The
// checks themselves are SQL, in the capability's folder, so doctor knows none of them.
#include <algorithm>

#include <fmt/format.h>

#include "pgstack/capability/capability.h"
#include "pgstack/ops/doctor/checks.h"

namespace pgstack::doctor {
namespace {

Severity severity_of(const std::string& text, const std::string& function) {
  if (text == "info") return Severity::info;
  if (text == "warning") return Severity::warning;
  if (text == "critical") return Severity::critical;
  throw Error(fmt::format("pgstack.{}() returned severity '{}'; the contract allows ok, info, warning, critical",
                          function, text));
}

// One capability's rows: 'ok' ones say a check ran and found nothing.
void read_health(CheckContext& ctx, const std::string& function) {
  auto rows = ctx.conn.query("SELECT check_name, severity, subject, what, why, fix FROM pgstack." +
                                 ctx.conn.quote_identifier(function) + "($1::jsonb)",
                             ctx.t.to_json());
  for (auto row : rows) {
    const auto check = row.get<std::string>(0);
    const auto severity = row.get<std::string>(1);
    ctx.report.ran(ctx.server, check);
    if (severity == "ok") continue;
    ctx.add(severity_of(severity, function), check, row.get<std::string>(2), row.get<std::string>(3),
            row.get<std::string>(4), row.get<std::string>(5));
  }
}

}  // namespace

void check_capabilities(CheckContext& ctx) {
  const auto functions = capability::contract_functions(ctx.conn);
  for (const auto& c : capability::capabilities()) {
    const std::string function = c.name + "_health";
    if (std::find(functions.begin(), functions.end(), function) == functions.end()) continue;
    run_check(ctx, function.c_str(), [&function](CheckContext& each) { read_health(each, function); });
  }
}

}  // namespace pgstack::doctor

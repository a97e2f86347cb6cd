// pgstack maintain [--db URL] [--json]: runs the workloads' due housekeeping once
// (expired keys, sessions and rate-limit entries swept, views refreshed, old messages
// dropped; docs/maintenance.md). For cron, when no application runs a Housekeeper.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/schema/housekeeper.h"

namespace pgstack::cli {

void add_maintain_command(CLI::App& app) {
  struct Args {
    std::optional<std::string> db;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("maintain", "Run the due housekeeping tasks once (docs/maintenance.md)");
  cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
  cmd->add_flag("--json", args->json, "Print as JSON");
  cmd->callback([args] {
    set_command("pgstack maintain");
    auto conn = connect_installed(args->db, capability::find("core"));
    auto runs = schema::run_due_maintenance(conn);
    bool failed = false;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : runs) {
      failed = failed || r.error.has_value();
      out.push_back({{"task", r.task}, {"result", r.result ? nlohmann::json(*r.result) : nlohmann::json(nullptr)},
                     {"error", r.error ? nlohmann::json(*r.error) : nlohmann::json(nullptr)}});
      if (!args->json) {
        if (r.error)
          std::cout << fmt::format("{:<24} failed: {}\n", r.task, *r.error);
        else
          std::cout << fmt::format("{:<24} {}\n", r.task, r.result.value_or(0));
      }
    }
    if (args->json) print_json({{"tasks", out}});
    else if (runs.empty()) std::cout << "nothing was due\n";
    if (failed) throw pgstack::Error("a task failed (its error is above; it is retried after its interval)");
  });
}

}  // namespace pgstack::cli

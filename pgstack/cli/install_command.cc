// pgstack install --db URL [--json]: applies pgstack's own schemas (the embedded
// modules); a second run applies nothing.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/schema/maintenance_schedule.h"
#include "pgstack/schema/migration_runner.h"

namespace pgstack::cli {

void add_install_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("install", "Install or upgrade pgstack's schemas (the pgstack.* SQL API) in a database");
  struct Args {
    std::optional<std::string> db;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--db", args->db, "Database URL (default: $DATABASE_URL, then the local stack)");
  cmd->add_flag("--json", args->json, "Print as JSON");
  cmd->callback([args] {
    set_command("pgstack install");
    auto dsn = resolve_dsn(args->db);
    auto conn = connect(dsn);
    schema::MigrationRunner runner(conn);
    auto report = runner.apply(schema::builtin_module_list());
    auto schedule = schema::schedule_maintenance(conn);
    if (args->json) {
      nlohmann::json applied = nlohmann::json::array();
      for (const auto& m : report.applied) applied.push_back({{"module", m.module}, {"version", m.version}, {"name", m.name}});
      print_json({{"database", pg::redact_dsn(dsn)}, {"applied", applied}, {"already_applied", report.already_applied},
                  {"maintenance_scheduled", schedule.scheduled}, {"maintenance", schedule.detail}});
      return;
    }
    for (const auto& m : report.applied) std::cout << fmt::format("applied {}/{}\n", m.module, m.name);
    if (report.applied.empty())
      std::cout << fmt::format("pgstack's schemas are up to date ({} migrations applied before); nothing to do\n",
                               report.already_applied);
    else
      std::cout << fmt::format("installed {} migration(s); {} were already applied\n", report.applied.size(),
                               report.already_applied);
    std::cout << schedule.detail << "\n";
  });
}

}  // namespace pgstack::cli

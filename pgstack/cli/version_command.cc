// pgstack version [--json]: this build's version and the SQL modules embedded in it.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/schema/builtin_modules.h"

#ifndef PGSTACK_VERSION
#define PGSTACK_VERSION "0.0.0"
#endif

namespace pgstack::cli {

std::string version_line() { return fmt::format("pgstack {} (PostgreSQL 15)", PGSTACK_VERSION); }

void add_version_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print pgstack's version and the SQL modules built into it");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print as JSON");
  cmd->callback([json] {
    set_command("pgstack version");
    nlohmann::json modules = nlohmann::json::array();
    for (const auto& m : schema::builtin_modules())
      modules.push_back({{"name", m.name}, {"migrations", m.files.size()}, {"depends_on", m.depends_on}});
    if (*json) {
      print_json({{"version", PGSTACK_VERSION}, {"postgresql", 15}, {"modules", modules}});
      return;
    }
    std::cout << version_line() << "\n";
    for (const auto& m : modules)
      std::cout << fmt::format("  module {}: {} migration(s)\n", m["name"].get<std::string>(), m["migrations"].get<std::size_t>());
  });
}

}  // namespace pgstack::cli

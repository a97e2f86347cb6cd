// The pgstack command line as one CLI11 App: the command groups (one file each),
// `pgstack help [command...]`, `--version`, and the integer checks every option gets.
#include <iostream>

#include <CLI/CLI.hpp>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/command_tree.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cli/integer_options.h"

namespace pgstack::cli {

void add_help_command(CLI::App& app) {
  auto words = std::make_shared<std::vector<std::string>>();
  auto* help = app.add_subcommand("help", "Print the help of pgstack or of a command: pgstack help migrate status");
  help->add_option("command", *words, "The command, as you would type it (migrate status)");
  help->callback([&app, words] {
    set_command("pgstack help");
    auto match = match_command(app, *words);
    if (match.unknown) throw BadUsage(unknown_command_text(match));
    // The formatter, not help(): that would follow the parsed subcommand, `help` itself.
    std::cout << match.command->get_formatter()->make_help(match.command, match.path, CLI::AppFormatMode::Normal);
  });
}

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>(
      "pgstack: the Postgres-centric stack and its workloads, on PostgreSQL alone.", "pgstack");
  app->require_subcommand(1);
  app->fallthrough(false);
  app->set_version_flag("--version", version_line(), "Print pgstack's version and exit");
  add_version_command(*app);
  add_help_command(*app);
  add_install_command(*app);
  add_migrate_commands(*app);
  add_stack_commands(*app);
  add_tune_commands(*app);
  add_status_command(*app);
  add_backup_commands(*app);
  add_capability_commands(*app);
  add_maintain_command(*app);
  add_doctor_command(*app);
  add_metrics_commands(*app);
  add_top_command(*app);
  add_advise_command(*app);
  check_every_integer_option(*app);
  return app;
}

}  // namespace pgstack::cli

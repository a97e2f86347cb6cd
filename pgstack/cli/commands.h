// The command groups of the pgstack CLI; make_app() registers each on the root App.
// One file per group (version_command.cc, install_command.cc, ...), each adding its
// subcommands with their options, help text and callback. A capability's group lives in
// its own folder (pgstack/jobs/jobs_command.cc) and arrives by add_capability_commands.
//
//   CLI::App app{"pgstack"};
//   pgstack::cli::add_version_command(app);
//   app.parse(argc, argv);
#pragma once

#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace pgstack::cli {

void add_version_command(CLI::App& app);
void add_install_command(CLI::App& app);
void add_migrate_commands(CLI::App& app);
void add_stack_commands(CLI::App& app);  // up, down
void add_tune_commands(CLI::App& app);   // tune, env
void add_status_command(CLI::App& app);
void add_backup_commands(CLI::App& app);  // backup full|diff|list|check
void add_maintain_command(CLI::App& app);
// Every registered capability's group (`pgstack jobs ...`, `pgstack kv ...`): generated
// from the pgstack_capability() calls (capability.h), so this list names none of them.
void add_capability_commands(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_metrics_commands(CLI::App& app);  // metrics [--listen], metrics rules
void add_top_command(CLI::App& app);
void add_advise_command(CLI::App& app);

// pgstack help [command...]: the help of pgstack or of one command (root is the app).
void add_help_command(CLI::App& app);

// "pgstack 0.1.0 (PostgreSQL 15)": what `pgstack version` and `pgstack --version` print first.
std::string version_line();

// The whole command line: every group above, `help`, `--version`, and every integer
// option checked (integer_options.h). Callbacks run the commands when parsed.
std::unique_ptr<CLI::App> make_app();

// Runs the CLI; returns the process exit code (0 ok, 1 failure, 2 bad usage).
int run(int argc, char** argv);

}  // namespace pgstack::cli

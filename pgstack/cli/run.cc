// The CLI's top level: parse, run the chosen command, map every outcome to an exit
// code. Nothing escapes as a crash: pgstack::Error is a failure (1) with its message,
// CLI11's parse errors and BadUsage are bad usage (2).
#include <iostream>

#include <CLI/CLI.hpp>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"

namespace pgstack::cli {

int run(int argc, char** argv) {
  CLI::App app{"pgstack: the Postgres-centric stack and its workloads, on PostgreSQL alone.", "pgstack"};
  app.require_subcommand(1);
  app.fallthrough(false);
  add_version_command(app);
  add_install_command(app);
  add_migrate_commands(app);
  add_stack_commands(app);
  add_tune_commands(app);
  add_status_command(app);
  add_backup_commands(app);
  add_jobs_commands(app);
  add_kv_commands(app);
  add_flags_commands(app);
  add_sessions_commands(app);
  add_pubsub_commands(app);
  add_maintain_command(app);
  add_doctor_command(app);
  add_metrics_commands(app);
  add_top_command(app);
  add_advise_command(app);
  try {
    app.parse(argc, argv);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // "pgstack frobnicate" reads better as an unknown command than as a missing one.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty()) {
      std::cerr << "pgstack: unknown command '" << argv[1] << "'\n"
                << "run `pgstack --help` for the list of commands\n";
      return kExitUsage;
    }
    int code = app.exit(e);
    if (code != 0) std::cerr << "run `pgstack --help` (or `pgstack <command> --help`) for usage\n";
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const ExitWith& e) {
    return e.code;
  } catch (const BadUsage& e) {
    std::cerr << current_command() << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const pgstack::Error& e) {
    std::cerr << current_command() << ": " << e.what() << "\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << current_command() << ": unexpected error: " << e.what()
              << "\nthis is a bug in pgstack; please report it with the command you ran\n";
    return kExitFailure;
  }
}

}  // namespace pgstack::cli

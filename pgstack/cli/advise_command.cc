// pgstack advise [--db URL | --dir DIR] [--window 5s] [--json]: for each workload in use,
// the measured figures next to the thresholds where a specialised system (a broker, a
// search engine, Redis, a bigger machine) would be justified, with the headroom left.
#include <iostream>

#include <CLI/CLI.hpp>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cli/observe_target.h"
#include "pgstack/ops/doctor/advise.h"

namespace pgstack::cli {
namespace {

struct AdviseArgs {
  std::optional<std::string> db;
  std::string dir = stack::kDefaultDir;
  std::string window = "5s";
  bool json = false;
};

void run_advise(const AdviseArgs& args) {
  set_command("pgstack advise");
  auto target = resolve_observe_target(args.db, args.dir);
  doctor::AdviseOptions options;
  options.window = std::chrono::duration_cast<std::chrono::milliseconds>(parse_duration(args.window, "--window"));
  std::string dsn = target.dsn ? *target.dsn : target.stack->dsn();
  if (target.stack) options.data_dir = target.stack->primary().dir;
  auto conn = connect(dsn);
  auto evidence = doctor::advise(conn, options);
  if (args.json) print_json({{"evidence", doctor::to_json(evidence)}});
  else std::cout << doctor::to_text(evidence);
}

}  // namespace

void add_advise_command(CLI::App& app) {
  auto args = std::make_shared<AdviseArgs>();
  auto* cmd = app.add_subcommand(
      "advise", "Measure each workload against the point where a specialised system would pay (Redis, a broker, ...)");
  cmd->add_option("--db", args->db, "The database to measure (a URL); default: the stack's primary");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_option("--window", args->window, "How long to measure rates over")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print as JSON");
  cmd->callback([args] { run_advise(*args); });
}

}  // namespace pgstack::cli

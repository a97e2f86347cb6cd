// pgstack doctor [--db URL | --dir DIR] [--config FILE] [--json] [--state FILE]: every
// health check, each finding with why it matters and its fix. Exit 0 healthy, 1
// warnings, 3 critical findings (2 stays bad usage, as for every command).
#include <iostream>

#include <CLI/CLI.hpp>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/commands.h"
#include "pgstack/cli/observe_target.h"
#include "pgstack/ops/stack/layout.h"
#include "pgstack/ops/doctor/doctor.h"
#include "pgstack/ops/doctor/rate_state.h"

namespace pgstack::cli {
namespace {

struct DoctorArgs {
  std::optional<std::string> db;
  std::string dir = stack::kDefaultDir;
  std::optional<std::string> config;
  std::optional<std::string> state;
  bool json = false;
};

void run_doctor_command(const DoctorArgs& args) {
  set_command("pgstack doctor");
  auto target = resolve_observe_target(args.db, args.dir);
  doctor::DoctorOptions options;
  options.dsn = target.dsn;
  options.dir = target.dir;
  options.thresholds = resolve_thresholds(args.config, target);
  options.state_file = args.state ? std::filesystem::path(*args.state) : doctor::default_state_file();
  auto report = doctor::run_doctor(options);
  if (args.json) print_json(report.to_json());
  else std::cout << report.to_text();
  std::cout.flush();
  if (int code = report.exit_code(); code != kExitOk) throw ExitWith{code};
}

}  // namespace

void add_doctor_command(CLI::App& app) {
  auto args = std::make_shared<DoctorArgs>();
  auto* cmd = app.add_subcommand(
      "doctor", "Check the stack's health (the six alerts and PgHero's checks); exit 0 healthy, 1 warnings, 3 critical");
  cmd->add_option("--db", args->db, "One server to check (a database URL); default: the stack in --dir");
  cmd->add_option("--dir", args->dir, "The stack's folder")->capture_default_str();
  cmd->add_option("--config", args->config, "pgstack.toml with a [doctor] table of thresholds (default ./pgstack.toml)");
  cmd->add_option("--state", args->state,
                  "Where rates are remembered between runs (default $XDG_STATE_HOME/pgstack/doctor-state.json)");
  cmd->add_flag("--json", args->json, "Print as JSON");
  cmd->callback([args] { run_doctor_command(*args); });
}

}  // namespace pgstack::cli

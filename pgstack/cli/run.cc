// The CLI's top level: parse, run the chosen command, map every outcome to an exit
// code. Nothing escapes as a crash: pgstack::Error is a failure (1) with its message,
// CLI11's parse errors and BadUsage are bad usage (2). Every message is prefixed once
// with the command it is about.
#include <iostream>

#include <CLI/CLI.hpp>

#include "pgstack/cli/cli_context.h"
#include "pgstack/cli/command_tree.h"
#include "pgstack/cli/commands.h"

namespace pgstack::cli {
namespace {

// "pgstack jobs show: <message>", unless the message already says which command it is
// about (a library's own text may, and "pgstack metrics: pgstack metrics: ..." helps nobody).
void print_error(const std::string& command, const std::string& message) {
  if (message.starts_with(command + ":")) std::cerr << message << "\n";
  else std::cerr << command << ": " << message << "\n";
}

// The commands CLI11 had parsed when it stopped, deepest last.
CommandMatch parsed_command(CLI::App& app) {
  CommandMatch match{.command = &app};
  while (!match.command->get_subcommands().empty()) {
    match.command = match.command->get_subcommands().front();
    match.path += " " + match.command->get_name();
  }
  return match;
}

int report_parse_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
  // A word that names no command reads better as that than as CLI11's "A subcommand is
  // required" or "The following arguments were not expected".
  if (auto line = match_command_line(app, args); line.unknown) {
    print_error("pgstack", unknown_command_text(line));
    return kExitUsage;
  }
  const auto parsed = parsed_command(app);
  if (dynamic_cast<const CLI::RequiredError*>(&e) && parsed.command->get_require_subcommand_min() > 0 &&
      parsed.command->get_subcommands().empty()) {
    print_error(parsed.path, missing_command_text(*parsed.command, parsed.path));
    return kExitUsage;
  }
  print_error(parsed.path, e.what());
  std::cerr << "run `" << parsed.path << " --help` for usage\n";
  return kExitUsage;
}

}  // namespace

int run(int argc, char** argv) {
  auto app = make_app();
  try {
    app->parse(argc, argv);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    return report_parse_error(*app, e, std::vector<std::string>(argv + 1, argv + argc));
  } catch (const ExitWith& e) {
    return e.code;
  } catch (const BadUsage& e) {
    print_error(current_command(), e.what());
    return kExitUsage;
  } catch (const pgstack::Error& e) {
    print_error(current_command(), e.what());
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << current_command() << ": unexpected error: " << e.what()
              << "\nthis is a bug in pgstack; please report it with the command you ran\n";
    return kExitFailure;
  }
}

}  // namespace pgstack::cli

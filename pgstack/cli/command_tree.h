// The CLI's commands as a tree (CLI11's Apps): finding the command a list of words
// names, and the errors for a word that names none ("pgstack backup weekly") or a group
// given no command ("pgstack jobs"), with the group's commands and the closest one.
//
//   auto match = pgstack::cli::match_command(app, {"jobs", "show"});   // match.command: `jobs show`
//   if (match.unknown) std::cerr << unknown_command_text(match) << "\n";
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace pgstack::cli {

struct CommandMatch {
  CLI::App* command = nullptr;         // the deepest command the words name
  std::string path = "pgstack";        // its full name: "pgstack jobs show"
  std::optional<std::string> unknown;  // the first word that names no command of `command`
};

// Follows words (commands only, no options) down from root.
CommandMatch match_command(CLI::App& root, const std::vector<std::string>& words);

// Follows a command line down from root as CLI11 would, skipping options and their
// values; stops at the first word that is not a command where `command` takes no
// positional arguments (so the word can only have meant a command).
CommandMatch match_command_line(CLI::App& root, const std::vector<std::string>& args);

// The names of a command's subcommands, in the order they were added.
std::vector<std::string> subcommand_names(const CLI::App& command);

// The subcommand name closest to word (a typo, a prefix), if any is close.
std::optional<std::string> closest_command(const CLI::App& command, const std::string& word);

// "unknown command 'weekly' for 'pgstack backup' (its commands: full, diff, list); run ..."
std::string unknown_command_text(const CommandMatch& match);

// A group given no command: "a command is missing; its commands: stats, list, ...", then
// how to see what each does.
std::string missing_command_text(const CLI::App& group, const std::string& path);

}  // namespace pgstack::cli

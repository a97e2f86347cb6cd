#include "pgstack/cli/command_tree.h"

#include <algorithm>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace pgstack::cli {
namespace {

CLI::App* subcommand_named(CLI::App& command, const std::string& name) {
  for (auto* sub : command.get_subcommands([](CLI::App*) { return true; }))
    if (sub->check_name(name)) return sub;
  return nullptr;
}

bool takes_positionals(const CLI::App& command) {
  return !command.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
}

// Edits (insertions, deletions, substitutions) that turn a into b.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string how_to_list(const std::string& path) { return fmt::format("run `{} --help` for what each does", path); }

}  // namespace

std::vector<std::string> subcommand_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const auto* sub : command.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

CommandMatch match_command(CLI::App& root, const std::vector<std::string>& words) {
  CommandMatch match{.command = &root};
  for (const auto& word : words) {
    CLI::App* sub = subcommand_named(*match.command, word);
    if (!sub) {
      match.unknown = word;
      return match;
    }
    match.command = sub;
    match.path += " " + sub->get_name();
  }
  return match;
}

CommandMatch match_command_line(CLI::App& root, const std::vector<std::string>& args) {
  CommandMatch match{.command = &root};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.starts_with("-")) {
      // An option's value is the next word unless it came as --name=value.
      const auto* option = match.command->get_option_no_throw(arg.substr(0, arg.find('=')));
      if (option && option->get_type_size_min() > 0 && arg.find('=') == std::string::npos) ++i;
      continue;
    }
    if (CLI::App* sub = subcommand_named(*match.command, arg)) {
      match.command = sub;
      match.path += " " + sub->get_name();
      continue;
    }
    if (!subcommand_names(*match.command).empty() && !takes_positionals(*match.command)) match.unknown = arg;
    break;
  }
  return match;
}

std::optional<std::string> closest_command(const CLI::App& command, const std::string& word) {
  std::optional<std::string> best;
  std::size_t best_distance = 3;  // more edits than two is another word, not a typo
  for (const auto& name : subcommand_names(command)) {
    if (word.size() >= 2 && name.starts_with(word)) return name;  // "lis" for list
    if (const auto d = edit_distance(word, name); d < best_distance && d < name.size()) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

std::string unknown_command_text(const CommandMatch& match) {
  const auto& word = *match.unknown;
  std::string text = fmt::format("unknown command '{}' for '{}' (its commands: {})", word, match.path,
                                 fmt::join(subcommand_names(*match.command), ", "));
  if (auto closest = closest_command(*match.command, word)) text += fmt::format("; did you mean '{}'?", *closest);
  return text + "\n" + how_to_list(match.path);
}

std::string missing_command_text(const CLI::App& group, const std::string& path) {
  return fmt::format("a command is missing; its commands: {}\n{}", fmt::join(subcommand_names(group), ", "),
                     how_to_list(path));
}

}  // namespace pgstack::cli

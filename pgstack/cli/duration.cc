// parse_duration (declared in cli_context.h) in a file of its own, so its fuzz target
// (fuzz/duration_fuzz.cc) builds without the rest of the CLI.
#include <string>

#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"

namespace pgstack::cli {

std::chrono::microseconds parse_duration(std::string_view text, std::string_view option) {
  double number = 0;
  std::size_t used = 0;
  try {
    number = std::stod(std::string(text), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string_view unit = text.substr(used);
  double seconds_per_unit = 0;
  if (unit.empty() || unit == "s") seconds_per_unit = 1;
  else if (unit == "ms") seconds_per_unit = 0.001;
  else if (unit == "m") seconds_per_unit = 60;
  else if (unit == "h") seconds_per_unit = 3600;
  else if (unit == "d") seconds_per_unit = 86400;
  if (used == 0 || seconds_per_unit == 0 || !(number > 0) || number * seconds_per_unit > 3.0e9)
    throw BadUsage(fmt::format("{} '{}' is not a positive duration; write it as 250ms, 30s, 5m, 2h or 7d", option, text));
  // Durations are kept in whole microseconds: a shorter one would become zero.
  const auto microseconds = static_cast<std::int64_t>(number * seconds_per_unit * 1e6);
  if (microseconds == 0)
    throw BadUsage(fmt::format("{} '{}' is shorter than a microsecond; write it as 250ms, 30s, 5m, 2h or 7d", option, text));
  return std::chrono::microseconds(microseconds);
}

}  // namespace pgstack::cli

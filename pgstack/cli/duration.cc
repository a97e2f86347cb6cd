// parse_duration (declared in cli_context.h) in a file of its own, so its fuzz target
// (fuzz/duration_fuzz.cc) builds without the rest of the CLI.
#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "pgstack/cli/cli_context.h"

namespace pgstack::cli {
namespace {

// Seconds per unit of a duration's suffix; 0 for a suffix that is not a unit.
double seconds_per_unit(std::string_view unit) {
  if (unit.empty() || unit == "s") return 1;
  if (unit == "ms") return 0.001;
  if (unit == "m") return 60;
  if (unit == "h") return 3600;
  if (unit == "d") return 86400;
  return 0;
}

}  // namespace

std::chrono::microseconds parse_duration(std::string_view text, std::string_view option) {
  const auto bad = [&](std::string_view why) {
    return BadUsage(fmt::format("{} '{}' {}; write it as 250ms, 30s, 5m, 2h or 7d", option, text, why));
  };
  // Digits with at most one point, then the unit: no signs, exponents, "inf" or spaces.
  const std::size_t number_end = std::min(text.find_first_not_of("0123456789."), text.size());
  const std::string_view number_text = text.substr(0, number_end);
  double number = 0;
  const auto [stop, error] = std::from_chars(number_text.data(), number_text.data() + number_text.size(), number);
  const double per_unit = seconds_per_unit(text.substr(number_end));
  if (text.starts_with("-")) throw bad("is negative; a duration must be longer than zero");
  if (number_text.empty() || error != std::errc{} || stop != number_text.data() + number_text.size() || per_unit == 0)
    throw bad("is not a duration");
  const double seconds = number * per_unit;
  if (seconds > kLongestDurationDays * 86400.0)
    throw bad(fmt::format("is too long; the longest is {}d (100 years)", kLongestDurationDays));
  if (seconds < 0.001) throw bad(number == 0 ? "must be longer than zero" : "is shorter than the shortest, 1ms");
  return std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6));
}

}  // namespace pgstack::cli

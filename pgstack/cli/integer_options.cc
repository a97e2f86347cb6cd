#include "pgstack/cli/integer_options.h"

#include <charconv>

#include <fmt/format.h>

namespace pgstack::cli {
namespace {

constexpr auto kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr auto kInt64Max = std::numeric_limits<std::int64_t>::max();

// What the allowed values are, for a value too large (or too small) for them.
std::string allowed_text(std::int64_t min, std::int64_t max, bool too_large) {
  if (min == kInt64Min && max == kInt64Max)
    return too_large ? fmt::format("the largest is {}", max) : fmt::format("the smallest is {}", min);
  return fmt::format("it must be from {} to {}", min, max);
}

bool has_whole_number_check(CLI::Option& option) {
  try {
    return option.get_validator(kWholeNumberCheck) != nullptr;
  } catch (const CLI::OptionNotFound&) {
    return false;
  }
}

}  // namespace

bool is_integer_option(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  return type.starts_with("INT") || type.starts_with("UINT");
}

CLI::Validator whole_number_in(std::int64_t min, std::int64_t max) {
  auto check = [min, max](std::string& input) -> std::string {
    std::int64_t value = 0;
    const char* end = input.data() + input.size();
    const auto [stop, error] = std::from_chars(input.data(), end, value);
    const bool digits_only = !input.empty() && stop == end;
    if (error == std::errc::result_out_of_range && digits_only) {
      const bool too_large = input.front() != '-';
      return fmt::format("{} is too {}; {}", input, too_large ? "large" : "small", allowed_text(min, max, too_large));
    }
    if (error != std::errc{} || !digits_only)
      return fmt::format("'{}' is not a whole number; write it in decimal digits, like 42", input);
    if (value > max || value < min)
      return fmt::format("{} is too {}; {}", input, value > max ? "large" : "small", allowed_text(min, max, value > max));
    input = std::to_string(value);  // CLI11 would read "010" as octal
    return {};
  };
  const std::string description =
      min == kInt64Min && max == kInt64Max ? std::string() : fmt::format("from {} to {}", min, max);
  return CLI::Validator(check, description, kWholeNumberCheck);
}

void check_every_integer_option(CLI::App& app) {
  for (auto* option : app.get_options([](const CLI::Option* o) { return is_integer_option(*o); }))
    if (!has_whole_number_check(*option)) option->transform(whole_number_in(kInt64Min, kInt64Max));
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) check_every_integer_option(*sub);
}

}  // namespace pgstack::cli

// Integer options and arguments that take only what they say: a whole number in
// decimal, within the range the command can use. CLI11 alone reads "010" as octal 8,
// "0x10" as 16, and clamps 99999999999999999999 to the largest int64 without a word.
//
//   cmd->add_option("--limit", args->limit, "At most this many")->check(whole_number_in(1, 10000));
//   check_every_integer_option(app);   // the rest: decimal, within int64
#pragma once

#include <cstdint>
#include <limits>

#include <CLI/CLI.hpp>

namespace pgstack::cli {

// The name both checks below carry, so a test can find an integer option without one.
inline constexpr const char* kWholeNumberCheck = "whole number";

// A whole number in decimal from min to max; the value is passed on normalised ("010"
// becomes "10"). Errors say what was given, why it does not do and the allowed range.
CLI::Validator whole_number_in(std::int64_t min, std::int64_t max);

// An id of a bigint identity column: from 1 to the largest int64.
inline CLI::Validator positive_id() { return whole_number_in(1, std::numeric_limits<std::int64_t>::max()); }

// Every integer option of app and its subcommands that has no whole_number_in gets one
// for the whole int64 range, checked before any other check it has.
void check_every_integer_option(CLI::App& app);

// True for an option CLI11 converts to an integer.
bool is_integer_option(const CLI::Option& option);

}  // namespace pgstack::cli

// JSON that a person wrote (a command-line argument, a file they named, a value they
// stored): parsed with an error that says in words what is wrong and where, never the
// library's "[json.exception.parse_error.101] ..." text.
//
//   auto attributes = pgstack::pg::parse_json(text, "--attributes");
//   // throws pg::UsageError: "--attributes is not valid JSON: unexpected ''' at line 1,
//   //                         column 2 (JSON strings take double quotes)"
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace pgstack::pg {

// Parses text; throws UsageError naming what (the option, file or column) and the reason.
nlohmann::json parse_json(std::string_view text, std::string_view what);

}  // namespace pgstack::pg

#include "pgstack/pg/json_text.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "pgstack/pg/errors.h"

namespace pgstack::pg {
namespace {

// "line 2, column 7" of the character at index (both counted from 1).
std::string position_text(std::string_view text, std::size_t index) {
  const auto before = text.substr(0, index);
  const auto line = 1 + std::count(before.begin(), before.end(), '\n');
  const auto last_newline = before.rfind('\n');
  const auto column = index - (last_newline == std::string_view::npos ? 0 : last_newline + 1) + 1;
  return fmt::format("line {}, column {}", line, column);
}

std::string character_text(char c) {
  if (std::isprint(static_cast<unsigned char>(c))) return fmt::format("'{}'", c);
  return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
}

// What the parser stumbled on, from the position it stopped at (nlohmann counts the
// characters it read, so the culprit is the last of them; past the end, the text ended).
std::string reason_text(std::string_view text, std::size_t bytes_read) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
    return "it is empty";
  if (bytes_read == 0 || bytes_read > text.size())
    return "it ends too early (an unclosed string, array or object?)";
  const std::size_t index = bytes_read - 1;
  const char c = text[index];
  std::string reason = fmt::format("unexpected {} at {}", character_text(c), position_text(text, index));
  if (c == '\'') reason += " (JSON strings take double quotes)";
  return reason;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view what) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw UsageError(fmt::format("{} is not valid JSON: {}", what, reason_text(text, e.byte)));
  } catch (const nlohmann::json::out_of_range&) {
    // The only range error parsing raises: a number beyond a double's (1e999).
    throw UsageError(fmt::format("{} is not valid JSON here: it holds a number too large for a double", what));
  }
}

}  // namespace pgstack::pg

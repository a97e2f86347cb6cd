// Migration files (pgstack/schema/migration_runner.h): the NNN_name.sql name and the
// "-- pgstack:no-transaction" marker. The input is "<file name>\n<file text>". Beyond
// not crashing: a name is accepted exactly when it is NNN_name.sql (checked here
// independently), a refused one gets MigrationError; the marker is found exactly when
// the first non-blank line (after a BOM) is the marker; a file checked out with CRLF line
// ends has the checksum it has with LF.
#include <algorithm>
#include <cctype>

#include "fuzz/fuzz_support.h"
#include "pgstack/schema/migration_runner.h"

using namespace pgstack::schema;
using pgstack::fuzz::require;

namespace {

// The documented rule, written out separately: digits (a positive number that fits an
// int), '_', at least one more character, ".sql".
bool is_migration_name(std::string_view name) {
  if (!name.ends_with(".sql")) return false;
  name.remove_suffix(4);
  const auto underscore = name.find('_');
  if (underscore == 0 || underscore == std::string_view::npos || underscore + 1 == name.size()) return false;
  const auto digits = name.substr(0, underscore);
  if (!std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) return false;
  const auto significant = digits.substr(std::min(digits.find_first_not_of('0'), digits.size()));
  return !significant.empty() && (significant.size() < 10 || (significant.size() == 10 && significant <= "2147483647"));
}

// The first non-blank line, without a BOM before it or blanks after it, is the marker.
bool has_marker(std::string_view sql) {
  if (sql.starts_with("\xEF\xBB\xBF")) sql.remove_prefix(3);
  const auto first = sql.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return false;
  auto line = sql.substr(first, sql.find('\n', first) - first);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  return line == "-- pgstack:no-transaction";
}

std::string with_crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  const auto input = pgstack::fuzz::as_text(data, size);
  const auto newline = input.find('\n');
  const std::string name(input.substr(0, newline));
  const std::string_view sql = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  const bool valid = is_migration_name(name);
  require(migration_version(name).has_value() == valid, "migration_version disagrees with NNN_name.sql", name);
  Migration m;
  try {
    m = make_migration("app", name, "migrations/" + name, sql);
  } catch (const MigrationError& e) {
    require(!valid, "a valid name was refused", name);
    pgstack::fuzz::require_clear_message(e.what(), "migrations/", input);
    return 0;
  }
  require(valid, "an invalid name was accepted", name);
  require(m.version == *migration_version(name) && m.version > 0, "the version is not the name's number", name);
  require(m.transactional == !has_marker(m.sql), "the no-transaction marker was misread", m.sql);
  require(m.checksum.size() == 64, "the checksum is not a SHA-256 in hex", m.checksum);
  if (sql.find('\r') == std::string_view::npos)
    require(make_migration("app", name, name, with_crlf(sql)).checksum == m.checksum,
            "a CRLF checkout has another checksum", m.sql);
  return 0;
}

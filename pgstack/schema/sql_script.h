// A migration file seen through PostgreSQL's own parser (libpg_query): a syntax check
// that names the line, and the file split into statements, each with the line it
// starts on — so an error the server reports can be traced back to file:line.
//
//   auto script = pgstack::schema::parse_sql_script(sql);   // throws SqlScriptError
//   for (const auto& s : script.statements) std::cout << s.line << ": " << s.text << "\n";
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstack/pg/errors.h"

namespace pgstack::schema {

struct SqlStatement {
  std::string text;  // the statement without its trailing semicolon
  int line = 1;      // 1-based line of the file where its first token is
  // For CREATE INDEX CONCURRENTLY: the index it creates, so a failure can drop the
  // INVALID index PostgreSQL leaves behind. Empty schema means the search_path's.
  std::optional<std::pair<std::string, std::string>> concurrent_index;  // {schema, name}
};

struct SqlScript {
  std::vector<SqlStatement> statements;
};

// The text does not parse: message is the parser's, line is 1-based.
class SqlScriptError : public pgstack::Error {
 public:
  SqlScriptError(std::string message, int line) : Error(std::move(message)), line_(line) {}
  int line() const noexcept { return line_; }

 private:
  int line_;
};

SqlScript parse_sql_script(std::string_view sql);

// The 1-based line holding the character at 1-based `position` of text (the unit
// PostgreSQL uses for error positions: characters, not bytes).
int line_of_position(std::string_view text, int position);

}  // namespace pgstack::schema

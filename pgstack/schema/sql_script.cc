#include "pgstack/schema/sql_script.h"

#include <pg_query.h>

#include <memory>

#include <nlohmann/json.hpp>

namespace pgstack::schema {
namespace {

// Owns a libpg_query parse result for the scope of one call.
struct ParseResult {
  PgQueryParseResult result;
  explicit ParseResult(const std::string& sql) : result(pg_query_parse(sql.c_str())) {}
  ~ParseResult() { pg_query_free_parse_result(result); }
  ParseResult(const ParseResult&) = delete;
  ParseResult& operator=(const ParseResult&) = delete;
};

bool is_continuation_byte(unsigned char c) { return (c & 0xC0) == 0x80; }

// Where the statement's first token is: stmt_location points just past the previous
// semicolon, so whitespace and comments before the statement are skipped here.
std::size_t first_token(std::string_view text, std::size_t from, std::size_t to) {
  std::size_t i = from;
  while (i < to) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      ++i;
    } else if (c == '-' && i + 1 < to && text[i + 1] == '-') {
      while (i < to && text[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < to && text[i + 1] == '*') {
      int depth = 0;  // PostgreSQL's block comments nest
      while (i < to) {
        if (text[i] == '/' && i + 1 < to && text[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (text[i] == '*' && i + 1 < to && text[i + 1] == '/') {
          i += 2;
          if (--depth == 0) break;
        } else {
          ++i;
        }
      }
    } else {
      break;
    }
  }
  return i;
}

int line_at_byte(std::string_view text, std::size_t offset) {
  int line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

std::optional<std::pair<std::string, std::string>> concurrent_index_of(const nlohmann::json& stmt) {
  auto it = stmt.find("IndexStmt");
  if (it == stmt.end() || !it->value("concurrent", false)) return std::nullopt;
  const auto& index = *it;
  if (!index.contains("idxname")) return std::nullopt;  // unnamed: we cannot know which one
  std::string schema;
  if (auto rel = index.find("relation"); rel != index.end()) schema = rel->value("schemaname", "");
  return std::make_pair(schema, index["idxname"].get<std::string>());
}

}  // namespace

int line_of_position(std::string_view text, int position) {
  int line = 1;
  int chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!is_continuation_byte(c)) {
      if (++chars >= position) break;
    }
    line += c == '\n';
  }
  return line;
}

SqlScript parse_sql_script(std::string_view sql) {
  const std::string text(sql);
  ParseResult parsed(text);
  if (parsed.result.error) {
    const auto* e = parsed.result.error;
    int line = e->cursorpos > 0 ? line_of_position(text, e->cursorpos) : 1;
    throw SqlScriptError(e->message ? e->message : "syntax error", line);
  }
  auto tree = nlohmann::json::parse(parsed.result.parse_tree);
  SqlScript script;
  for (const auto& raw : tree.value("stmts", nlohmann::json::array())) {
    // Protobuf JSON leaves out zero values: a missing location is 0, a missing
    // length means "to the end of the text" (the last statement without semicolon).
    std::size_t begin = raw.value("stmt_location", 0);
    std::size_t length = raw.value("stmt_len", 0);
    std::size_t end = length == 0 ? text.size() : begin + length;
    std::size_t start = first_token(text, begin, end);
    SqlStatement statement;
    statement.text = text.substr(start, end - start);
    statement.line = line_at_byte(text, start);
    if (raw.contains("stmt")) statement.concurrent_index = concurrent_index_of(raw["stmt"]);
    script.statements.push_back(std::move(statement));
  }
  return script;
}

}  // namespace pgstack::schema
